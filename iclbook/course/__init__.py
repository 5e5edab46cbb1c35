"""Course tooling: nbgrader assignments, the student edition, JupyterHub links.

- :mod:`iclbook.course.assignments` -- the command line (``python -m iclbook.course``, or
  ``scripts/make_assignments.py``) that writes the graded assignments (an nbgrader course
  folder, ``assignments/``) and the solution-free sources of the student edition; the work is
  split by job: :mod:`~iclbook.course.markup` (the chapters' exercise markup),
  :mod:`~iclbook.course.markdown` (MyST to plain Jupyter markdown),
  :mod:`~iclbook.course.nbgrader` (source and release notebooks, the generated files) and
  :mod:`~iclbook.course.student` (the student edition's sources).
- :mod:`iclbook.course.solutions` -- the text of every solution of a chapter, as word
  fragments to search for (the student-edition tests).
- :mod:`iclbook.course.hub` -- nbgitpuller links that open a notebook on a JupyterHub.

These modules read the repository (``book/``, ``assignments/``): they work from a clone
installed with ``pip install -e .``.
"""

from .hub import nbgitpuller_link

__all__ = ["nbgitpuller_link"]
