"""The widget builder (:mod:`iclbook.core.widgets`): live sliders and static JS-linked frames.

Static mode is what the web page shows: every frame must be there, every slider must be
jslinked to every Stack of its level, and the frame shown for a slider position must be the
figure ``draw`` gives for those values.  Live mode must call ``draw`` again on every change.
"""

import itertools
import math

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pytest
from ipywidgets.widgets.widget import _instances
from ipywidgets.widgets.widget_link import Link

from iclbook.core import widgets as iw
from iclbook.core.widgets import LIVE_DPI, MAX_FRAMES, Param, explorer, mode, render_png


def draw(a, b):
    """A small deterministic figure whose pixels depend on both values."""
    fig, ax = plt.subplots(figsize=(4, 2.5))
    ax.plot([0, 1, 2], [a, b, a * b], label="curve")
    ax.set_title(f"a = {a}, b = {b}")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend()
    return fig


PARAMS = [Param("a", "A", [1, 2, 3]), Param("b", "B", [0.5, 1.5], low=0.0, high=2.0)]


@pytest.fixture
def static(monkeypatch):
    monkeypatch.setenv("ICLBOOK_WIDGETS", "static")


@pytest.fixture
def live(monkeypatch):
    monkeypatch.delenv("ICLBOOK_WIDGETS", raising=False)


# ------------------------------------------------------------------------------ Param
def test_param_defaults_and_types():
    p = Param("n", "N", [5, 10, 20])
    assert (p.low, p.high, p.step, p.value, p.is_int) == (5, 20, 1, 5, True)
    assert p.labels == ["5", "10", "20"]
    q = Param("s", "σ", [0, 0.5, 2], high=4, value=0.5)
    assert (q.low, q.high, q.value, q.is_int) == (0.0, 4.0, 0.5, False)
    assert math.isclose(q.step, 0.04)
    assert all(isinstance(v, float) for v in q.grid)
    assert not Param("n", "N", [1, 2], step=0.5).is_int


@pytest.mark.parametrize("kwargs, match", [
    (dict(name="1x"), "identifier"),
    (dict(label=""), "label"),
    (dict(grid=[]), "non-empty"),
    (dict(grid=5), "sequence"),
    (dict(grid=[2, 1]), "strictly increasing"),
    (dict(grid=[1, 1]), "strictly increasing"),
    (dict(grid=[1, float("nan")]), "finite"),
    (dict(grid=[1, "2"]), "finite number"),
    (dict(grid=[True, 2]), "finite number"),
    (dict(low=2), "low <= every grid value <= high"),
    (dict(high=2), "low <= every grid value <= high"),
    (dict(low=float("-inf")), "finite"),
    (dict(step=0), "step must be > 0"),
    (dict(step=-1), "step must be > 0"),
    (dict(value=4), "one of the grid values"),
    (dict(fmt="{:d}{}"), "fmt"),
    (dict(grid=[1.0, 1.01], fmt="{:.1f}"), "same label"),
])
def test_param_rejects_bad_input(kwargs, match):
    args = dict(name="a", label="A", grid=[1, 2, 3]) | kwargs
    with pytest.raises(ValueError, match=match):
        Param(**args)


def test_mode(monkeypatch):
    monkeypatch.delenv("ICLBOOK_WIDGETS", raising=False)
    assert mode() == "live"
    monkeypatch.setenv("ICLBOOK_WIDGETS", "static")
    assert mode() == "static"
    monkeypatch.setenv("ICLBOOK_WIDGETS", "live")
    assert mode() == "live"


# ----------------------------------------------------------------------------- static
def _links_to(stack):
    return [w for w in list(_instances.values())
            if isinstance(w, Link) and w.target[0] is stack]


def test_static_frames_links_and_content(static):
    plt.close("all")
    box = explorer(draw, PARAMS, title="demo")
    assert isinstance(box, widgets.VBox)
    title, slider_a, slider_b, outer = box.children
    assert isinstance(title, widgets.HTML) and "demo" in title.value
    assert isinstance(slider_a, widgets.SelectionSlider)
    assert slider_a.options == (("1", 1), ("2", 2), ("3", 3))
    assert slider_b.options == (("0.5", 0.5), ("1.5", 1.5))
    # one frame per grid combination, nested Stacks indexed by a then b
    assert len(box.frames) == 3 * 2
    assert isinstance(outer, widgets.Stack) and len(outer.children) == 3
    assert box.stacks == [[outer], list(outer.children)]
    for i, j in itertools.product(range(3), range(2)):
        frame = outer.children[i].children[j]
        assert isinstance(frame, widgets.Image) and frame.format == "png"
        expected = render_png(draw(PARAMS[0].grid[i], PARAMS[1].grid[j]))
        plt.close("all")
        assert frame.value == expected, (i, j)
    # frames differ (the sliders really switch something)
    assert len({bytes(f) for f in box.frames.values()}) == 6
    # every Stack of a level is jslinked to that level's slider, index -> selected_index
    for slider, stacks in ((slider_a, [outer]), (slider_b, list(outer.children))):
        for stack in stacks:
            links = _links_to(stack)
            assert len(links) == 1
            assert links[0].source == (slider, "index")
            assert links[0].target == (stack, "selected_index")
            assert stack.selected_index == slider.index == 0
    assert len(box.links) == 1 + 3
    # no figure left open: nothing duplicates the widget as a static image
    assert plt.get_fignums() == []


def test_static_frame_size_and_start_value(static):
    p = [Param("a", "A", [1, 2], value=2), Param("b", "B", [0.5, 1.5, 2.0], value=1.5)]
    box = explorer(draw, p)
    sa, sb, outer = box.children
    assert (sa.index, sb.index) == (1, 1)
    assert outer.selected_index == 1
    assert all(s.selected_index == 1 for s in outer.children)
    assert all(5_000 < len(b) < 40_000 for b in box.frames.values())


def test_static_single_and_three_parameters(static):
    one = explorer(lambda a: draw(a, 1.0), [Param("a", "A", [1, 2, 3, 4])])
    assert len(one.frames) == 4 and len(one.links) == 1
    three = explorer(lambda a, b, c: draw(a + c, b),
                     [Param("a", "A", [1, 2]), Param("b", "B", [1, 2, 3]),
                      Param("c", "C", [0, 1])])
    assert len(three.frames) == 12
    assert [len(level) for level in three.stacks] == [1, 2, 6]
    assert len(three.links) == 1 + 2 + 6
    assert three.frames[(1, 2, 0)] == render_png(draw(2, 3))
    plt.close("all")


def test_static_frame_caps(static, monkeypatch):
    big = [Param("a", "A", list(range(9))), Param("b", "B", list(range(8)))]
    with pytest.raises(ValueError, match="at most max_frames = 64"):
        explorer(draw, big)
    with pytest.raises(ValueError, match="at most max_frames = 4"):
        explorer(draw, PARAMS, max_frames=4)
    with pytest.raises(ValueError, match=f"max_frames must be an integer in 1..{MAX_FRAMES}"):
        explorer(draw, PARAMS, max_frames=MAX_FRAMES + 1)
    monkeypatch.setattr(iw, "MAX_STATIC_BYTES", 10_000)
    with pytest.raises(ValueError, match="MB"):
        explorer(draw, PARAMS)
    assert plt.get_fignums() == []


# ------------------------------------------------------------------------------- live
def test_live_redraws_on_change(live):
    calls = []

    def recording(a, b):
        calls.append((a, b))
        return draw(a, b)

    plt.close("all")
    box = explorer(recording, PARAMS, title="live demo")
    _, sa, sb, image = box.children
    assert isinstance(sa, widgets.IntSlider) and isinstance(sb, widgets.FloatSlider)
    assert (sa.min, sa.max, sa.step, sa.value) == (1, 3, 1, 1)
    assert (sb.min, sb.max, sb.value) == (0.0, 2.0, 0.5)
    assert sa.continuous_update is False
    assert isinstance(image, widgets.Image) and box.image is image
    assert calls == [(1, 0.5)]
    assert plt.get_fignums() == []  # the widget closed its figure
    assert image.value == render_png(draw(1, 0.5), LIVE_DPI)
    plt.close("all")
    sa.value = 3
    assert calls[-1] == (3, 0.5)
    sb.value = 1.234  # between grid values: the live mode is continuous
    assert calls[-1] == (3, 1.234)
    assert len(calls) == 3
    assert plt.get_fignums() == []
    assert image.value == render_png(draw(3, 1.234), LIVE_DPI)
    plt.close("all")
    assert box.sliders == {"a": sa, "b": sb}


def test_live_no_title(live):
    box = explorer(draw, PARAMS)
    assert not isinstance(box.children[0], widgets.HTML)
    plt.close("all")


# ------------------------------------------------------------------------ bad explorers
@pytest.mark.parametrize("mode_env", ["static", "live"])
def test_explorer_rejects_bad_input(monkeypatch, mode_env):
    monkeypatch.setenv("ICLBOOK_WIDGETS", mode_env)
    with pytest.raises(ValueError, match="at least one Param"):
        explorer(draw, [])
    with pytest.raises(ValueError, match="Param objects"):
        explorer(draw, [("a", [1, 2])])
    with pytest.raises(ValueError, match="distinct names"):
        explorer(draw, [Param("a", "A", [1]), Param("a", "A again", [2])])
    with pytest.raises(ValueError, match="draw cannot be called"):
        explorer(draw, [Param("a", "A", [1]), Param("c", "C", [2])])
    with pytest.raises(ValueError, match="callable"):
        explorer("draw", PARAMS)
    with pytest.raises(ValueError, match="must return a matplotlib Figure"):
        explorer(lambda a, b: None, PARAMS)
    with pytest.raises(ValueError, match="title"):
        explorer(draw, PARAMS, title=3)
    with pytest.raises(ValueError, match="dpi"):
        explorer(draw, PARAMS, dpi=0)
    with pytest.raises(ValueError, match="live_dpi"):
        explorer(draw, PARAMS, live_dpi=-3)
    plt.close("all")


def test_render_png_is_deterministic():
    a, b = render_png(draw(1, 2)), render_png(draw(1, 2))
    plt.close("all")
    assert a == b and a[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="dpi"):
        render_png(draw(1, 2), dpi=0)
    plt.close("all")


def test_static_frames_rendered_in_workers_are_the_frames_of_one_process(static, monkeypatch):
    # 16 frames: two forked workers draw them side by side; every frame must be the PNG
    # that draw gives for its own grid values, the same bytes as with a single process.
    grid = [Param("a", "A", [1, 2, 3, 4]), Param("b", "B", [0.5, 1.0, 1.5, 2.0])]
    monkeypatch.setenv("ICLBOOK_WORKERS", "2")
    assert iw.frame_workers(16) == 2
    two = explorer(draw, grid)
    monkeypatch.setenv("ICLBOOK_WORKERS", "1")
    assert iw.frame_workers(16) == 1
    one = explorer(draw, grid)
    assert one.frames == two.frames and len(two.frames) == 16
    assert len(set(two.frames.values())) == 16
    assert two.frames[(2, 1)] == render_png(draw(3, 1.0))
    plt.close("all")
    assert plt.get_fignums() == []


def test_frame_workers(monkeypatch):
    monkeypatch.setenv("ICLBOOK_WORKERS", "4")
    assert [iw.frame_workers(n) for n in (1, 8, 16, 64)] == [1, 1, 2, 4]
    with pytest.raises(ValueError, match="n_frames"):
        iw.frame_workers(0)
