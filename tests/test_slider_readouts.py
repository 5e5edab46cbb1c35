"""Every live slider's readout shows its value to the precision of its step.

A live ``FloatSlider`` shows its value through ``readout_format`` (ipywidgets' default
``.2f``): a slider moving by 0.005 (chapter 8's hidden-bit flips) would show 0.035 as
"0.04" while the figure title says 0.035.  The checks here

- find every ``explorer(...)`` call in the chapter notebooks (``book/*.ipynb``, read with
  ``ast``, nothing executed), build each one in live mode with a stand-in ``draw`` and, for
  every slider position, compare the readout with the value written with as many decimals as
  the step has (counted here from the step's decimal digits, independently of
  :func:`iclbook.core.widgets.step_decimals`);
- test :func:`iclbook.core.widgets.step_decimals` on hand-written cases and bad input.

The readout is formatted with Python's ``format`` and the slider's ``readout_format``: for
the fixed-point specs used here (``.kf``, ``d``) d3-format, which the front end uses, writes
the same text.
"""

from __future__ import annotations

import ast
import json
from decimal import Decimal
from pathlib import Path

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pytest

from iclbook.core.widgets import Param, explorer, readout_format, step_decimals

BOOK = Path(__file__).resolve().parents[1] / "book"


def _explorer_calls() -> list[tuple[str, int, list[Param]]]:
    """(chapter, cell index, its Params) for every ``explorer(draw, [Param(...), ...])``."""
    found = []
    for path in sorted(BOOK.glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for i, cell in enumerate(nb["cells"]):
            if cell["cell_type"] != "code":
                continue
            src = "".join(cell["source"])
            src = "\n".join(line for line in src.splitlines()
                            if not line.lstrip().startswith(("%", "!")))
            for node in ast.walk(ast.parse(src)):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                        and node.func.id == "explorer"):
                    assert len(node.args) >= 2 and isinstance(node.args[1], ast.List), (
                        f"{path.name} cell {i}: explorer's Params must be a literal list "
                        "for this test to read them")
                    params = []
                    for item in node.args[1].elts:
                        code = compile(ast.Expression(item), path.name, "eval")
                        params.append(eval(code, {"Param": Param}))  # literals only
                    found.append((path.name, i, params))
    return found


EXPLORERS = _explorer_calls()


def test_the_chapters_build_explorers():
    """Guard: the scan finds the widget chapters' explorers (3 in chapter 6, 2 in 8),
    among them chapter 8's hidden-bit slider (steps of 0.005)."""
    chapters = [c for c, _, _ in EXPLORERS]
    assert chapters.count("06_noise.ipynb") >= 3
    assert chapters.count("08_heads_and_noise.ipynb") >= 2
    assert any(p.name == "rho" and p.step == 0.005
               for c, _, ps in EXPLORERS if c.startswith("08") for p in ps)


def _decimals(step: float) -> int:
    """Decimal places of ``step`` as written (0.005 -> 3, 0.1 -> 1, 2 -> 0)."""
    exponent = Decimal(repr(step)).normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def _live_sliders(params: list[Param], monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.delenv("ICLBOOK_WIDGETS", raising=False)

    def draw(**_values):
        fig, ax = plt.subplots(figsize=(1, 1))
        ax.set_title("stand-in")
        return fig

    return explorer(draw, params).sliders


@pytest.mark.parametrize("chapter,cell,params", EXPLORERS,
                         ids=[f"{c.split('_')[0]}-cell{i}" for c, i, _ in EXPLORERS])
def test_every_chapter_slider_readout_shows_the_step(chapter, cell, params, monkeypatch):
    sliders = _live_sliders(params, monkeypatch)
    for p in params:
        s = sliders[p.name]
        where = f"{chapter} cell {cell}, slider {p.name!r} (step {p.step})"
        if isinstance(s, widgets.IntSlider):
            assert s.readout_format == "d", where
            continue
        k = _decimals(p.step)
        assert k <= 4, f"{where}: a step with a short decimal form is expected"
        positions = round((p.high - p.low) / p.step)
        readouts = []
        for j in range(positions + 1):
            v = p.low + j * p.step
            text = format(v, s.readout_format)
            decimals = len(text.split(".")[1]) if "." in text else 0
            assert decimals == k, f"{where}: readout {text!r} of {v!r} has {decimals} decimals"
            assert abs(float(text) - v) < 1e-9, f"{where}: readout {text!r} is not {v!r}"
            readouts.append(text)
        assert len(set(readouts)) == len(readouts), f"{where}: two positions read the same"
        for g in p.grid:  # the static page's readout and the live one name the same value
            assert float(format(g, s.readout_format)) == float(p.fmt.format(g)), where


def test_chapter_8_hidden_bit_readout():
    """The case of the issue: steps of 0.005 read 0.035, not 0.04."""
    p = Param("rho", "hidden-bit flips ρ", [0.0, 0.025, 0.05], high=0.5, step=0.005)
    assert format(0.035, readout_format(p)) == "0.035"


@pytest.mark.parametrize("step,k", [(0.005, 3), (0.01, 2), (0.05, 2), (0.1, 1), (0.25, 2),
                                    (1, 0), (2.0, 0), (0.0625, 4), (1e-6, 6),
                                    (1 / 30, 3), (1 / 3, 2), (2 / 3 * 10, 1)])
def test_step_decimals(step, k):
    assert step_decimals(step) == k


def test_readout_format_of_int_and_default_steps():
    assert readout_format(Param("r", "r", [1, 2, 3])) == "d"
    # default float step: 1/100 of the range, here 0.06
    assert readout_format(Param("s", "s", [0, 1, 2, 4], high=6.0)) == ".2f"


@pytest.mark.parametrize("bad", [0, -0.1, float("nan"), float("inf"), "0.1", True, None])
def test_step_decimals_rejects_bad_input(bad):
    with pytest.raises(ValueError, match="step must be a finite number > 0"):
        step_decimals(bad)
