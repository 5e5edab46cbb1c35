"""Prose checks of chapters 1-6 (no execution; reads the notebooks with their stored outputs).

* every ``{glue:text}`name``` in the text names a value the notebook glues (so no number in
  the prose is left dangling when a glue call is removed or renamed);
* every cell that displays a figure carries myst-nb figure metadata: a name ``fig-...``, a
  caption and alt text; every figure name is referenced from the text with ``{numref}``;
* every exercise title ends with a difficulty mark: `` (easy)``, `` (medium)`` or `` (hard)``;
* chapter notebooks carry the standard python3 kernelspec.
"""

import json
import re
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = sorted(p for p in BOOK.glob("0[1-6]_*.ipynb"))
GLUE_REF = re.compile(r"\{glue:(?:text|)\}`([A-Za-z0-9_]+)(?::[^`]*)?`")
EXERCISE = re.compile(r"^(?:```+|:::+)\{exercise\}(.*)$", re.M)
MARK = re.compile(r" \((easy|medium|hard)\)$")


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def glued_names(nb: dict) -> set[str]:
    names = set()
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            meta = out.get("metadata", {}).get("scrapbook")
            if meta:
                names.add(meta["name"])
    return names


def markdown(nb: dict) -> str:
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def figure_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"
            and any("image/png" in o.get("data", {}) for o in c.get("outputs", []))]


def test_chapters_found():
    assert [p.name[:2] for p in CHAPTERS] == ["01", "02", "03", "04", "05", "06"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_glue_reference_is_glued(path):
    nb = _load(path)
    refs = set(GLUE_REF.findall(markdown(nb)))
    missing = refs - glued_names(nb)
    assert not missing, f"{path.name}: prose refers to values never glued: {sorted(missing)}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_figure_has_name_caption_alt_and_is_referenced(path):
    nb = _load(path)
    text = markdown(nb)
    for cell in figure_cells(nb):
        meta = cell["metadata"].get("mystnb", {})
        fig, image = meta.get("figure", {}), meta.get("image", {})
        where = f"{path.name}: figure cell starting {''.join(cell['source'])[:50]!r}"
        assert re.fullmatch(r"fig-ch\d-[a-z0-9-]+", fig.get("name", "")), where + ": no name"
        assert len(fig.get("caption", "")) > 20, where + ": no caption"
        assert len(image.get("alt", "")) > 20, where + ": no alt text"
        images = sum("image/png" in o.get("data", {}) for o in cell["outputs"])
        assert images == 1, where + f": {images} images in one figure cell"
        assert f"{{numref}}`{fig['name']}`" in text, where + ": never referenced with numref"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_exercise_has_a_difficulty_mark(path):
    titles = EXERCISE.findall(markdown(_load(path)))
    assert titles, f"{path.name}: no exercises"
    for title in titles:
        assert MARK.search(title.strip()), f"{path.name}: exercise {title!r} has no difficulty"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_kernelspec(path):
    meta = _load(path)["metadata"]
    assert meta["kernelspec"]["name"] == "python3"
    assert meta["kernelspec"]["language"] == "python"
    assert meta["language_info"]["name"] == "python"


@pytest.mark.parametrize("path", sorted(BOOK.glob("*.ipynb")), ids=lambda p: p.stem)
def test_glued_numbers_are_plain(path):
    """myst-nb formats ``{glue:text}`name:.3f``` from the value's text repr: a NumPy scalar
    glued as such reads ``np.float64(...)`` (NumPy 2) and the build fails on it."""
    bad = []
    for cell in _load(path)["cells"]:
        for out in cell.get("outputs", []):
            name = out.get("metadata", {}).get("scrapbook", {}).get("name")
            text = out.get("data", {}).get("application/papermill.record/text/plain", "")
            if name and re.match(r"np\.\w+\(", text):
                bad.append(f"{name}={text}")
    assert not bad, f"{path.name}: glue plain Python numbers (float(...)), not {bad}"


@pytest.mark.parametrize("path", sorted(BOOK.glob("*.ipynb")), ids=lambda p: p.stem)
def test_no_glue_inside_maths(path):
    """A ``{glue:text}`` role inside ``$...$`` is not a role: MathJax receives it as TeX (raw
    text, or a "Double subscripts" error on names with underscores). Put it beside the maths."""
    inline = re.compile(r"(?<![\$\\])\$(?!\$)([^$]*?)\$")
    bad = [m.group(0)[:80] for m in inline.finditer(markdown(_load(path))) if "{glue" in m.group(1)]
    assert not bad, f"{path.name}: glue roles inside maths: {bad}"
