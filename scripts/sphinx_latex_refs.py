"""Sphinx extension of the iclbook PDF build: references to exercises of another chapter.

sphinx-exercise writes an exercise's LaTeX label as ``exercise:<label>`` and resolves
references within one page to it, but a reference from another page (``{ref}`label```)
keeps Sphinx's ``<page>:<label>`` form, which has no target in the PDF: LaTeX prints
"Exercise ??". For the LaTeX builder only, this post-transform turns every such reference
into sphinx-exercise's own LaTeX reference (same text, e.g. "Exercise 8.5"). HTML builds are
untouched. Loaded through ``sphinx.local_extensions`` in ``_config.yml``;
``scripts/check_pdf.py`` fails the PDF build on any "??" left.
"""

from __future__ import annotations

from typing import Any

from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform


class CrossPageExerciseRefs(SphinxPostTransform):
    """Rewrite cross-page references to enumerated exercises for the LaTeX writer."""

    # Before sphinx-exercise's ResolveLinkTextToSolutions (22), which does the rest.
    default_priority = 21
    formats = ("latex",)

    def run(self, **kwargs: Any) -> None:
        registry = getattr(self.env, "sphinx_exercise_registry", None)
        if not registry:
            return
        from sphinx_exercise.nodes import exercise_enumerable_node

        # Only Sphinx's numbered references (what {ref}/{numref} to an exercise become);
        # sphinx-exercise's own solution-title links are plain references and stay as they are.
        for node in list(self.document.findall(addnodes.number_reference)):
            uri = node.get("refuri", "")
            if node.get("refid") or "#" not in uri:
                continue
            label = uri.rsplit("#", 1)[1]
            target = registry.get(label)
            if target is None or not isinstance(target.get("node"),
                                                exercise_enumerable_node):
                continue
            del node["refuri"]
            node["refid"] = label


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_post_transform(CrossPageExerciseRefs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
