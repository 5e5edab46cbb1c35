"""Every chapter notebook opens in a live kernel as it is: standard kernelspec, nothing to fix.

JupyterLab and Notebook 7 pick the kernel from ``metadata.kernelspec``.  A chapter without one
makes JupyterLab look for a match ("No exact match found for python3"), mark the notebook as
modified on open, and sometimes start no kernel until the reader presses Run All.  So every
chapter must carry

- the standard ``python3`` kernelspec, exactly as JupyterLab writes it for ipykernel
  (``name``, ``display_name``, ``language``), and ``language_info.name == "python"``;
- a valid nbformat 4 document (``nbformat.validate``), which nbformat's normalisation leaves
  unchanged (no cell ids to add, no fields to drop), and which reads and writes back to the
  same JSON: opening and saving the notebook changes nothing.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat
import pytest
from nbformat.validator import normalize

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = sorted(BOOK.glob("*.ipynb"))
#: What JupyterLab writes for ipykernel's python3 kernel. With another display name (e.g. the
#: older "Python 3") JupyterLab rewrites the metadata when the kernel starts and marks the
#: notebook modified on open (measured with tests/browser/livelab.py).
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def test_kernelspec_is_the_installed_python3_kernel():
    """The expected kernelspec is the one the installed kernel reports to JupyterLab."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    assert {"name": "python3", "display_name": spec.display_name,
            "language": spec.language} == KERNELSPEC


def test_there_are_chapters():
    assert len(CHAPTERS) >= 10


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_standard_python3_kernelspec_and_language(path: Path):
    meta = json.loads(path.read_text(encoding="utf-8"))["metadata"]
    assert meta.get("kernelspec") == KERNELSPEC, (
        f"{path.name}: metadata.kernelspec must be {KERNELSPEC}, got {meta.get('kernelspec')}")
    assert meta.get("language_info", {}).get("name") == "python", (
        f"{path.name}: metadata.language_info.name must be 'python'")


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_opening_changes_nothing(path: Path):
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert (raw["nbformat"], raw["nbformat_minor"]) >= (4, 5), (
        f"{path.name}: nbformat 4.5 or later (cell ids) expected")
    nb = nbformat.reads(path.read_text(encoding="utf-8"), as_version=4)
    nbformat.validate(nb)  # raises ValidationError
    changes, normalized = normalize(copy.deepcopy(raw))
    assert changes == 0 and normalized == raw, f"{path.name}: normalisation changes it"
    assert json.loads(nbformat.writes(nb)) == raw, f"{path.name}: read + write changes it"
