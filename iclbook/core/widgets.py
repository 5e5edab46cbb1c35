"""One widget builder for the whole book: live sliders in a kernel, precomputed frames on the web.

A reader in Jupyter, Binder or Colab has a kernel: :func:`explorer` gives sliders over a
continuous range and redraws the figure (an ``Image`` widget) on every change.  A reader of
the static web page has no kernel: the book build sets ``ICLBOOK_WIDGETS=static``
(``scripts/build_book.sh``) and :func:`explorer` then renders one PNG frame per combination
of the grid values, stacks them in nested :class:`ipywidgets.Stack` widgets and links each
slider to its stacks with :func:`ipywidgets.jslink`.  The widget state is embedded in the
HTML page by the build, and the links run in the browser, so the sliders switch frames
without any kernel.  The frames are independent, so the build draws them side by side on
:func:`frame_workers` forked processes (one per core; ``ICLBOOK_WORKERS=1`` draws them in
this process), with the same PNG bytes for any count.

Usage in a chapter (the cell ends with the call, which returns the widget)::

    from iclbook.core.widgets import Param, explorer
    explorer(draw, [Param("sigma", "label noise σ", [0, 1, 2, 4], high=6),
                    Param("N", "context length N", [5, 10, 20, 40], low=1, high=100)],
             title="Risk against model size")

``draw(**values)`` must return a :class:`matplotlib.figure.Figure`; it must be fast (a closed
form), since the live mode calls it on every slider change.
"""

from __future__ import annotations

import inspect
import io
import itertools
import math
import numbers
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import ipywidgets as widgets
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from .validation import check_positive_int

__all__ = ["Param", "explorer", "mode", "render_png", "readout_format", "step_decimals",
           "frame_workers",
           "MAX_FRAMES", "MAX_STATIC_BYTES", "FRAME_DPI", "LIVE_DPI"]

#: Largest number of precomputed frames one static explorer may hold.
MAX_FRAMES = 64
#: Largest total size of one static explorer's PNG frames (the page must stay below 5 MB,
#: and widget state is embedded base64, a third larger).
MAX_STATIC_BYTES = 3_000_000
#: Resolution of the static frames (about 20-40 KB each for a 5.6 x 3.5 inch figure).
FRAME_DPI = 72
#: Resolution of the live figure (redrawn on every change, never stored in the web page).
LIVE_DPI = 100

Number = int | float


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _as_number(name: str, what: str, v: object) -> Number:
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise ValueError(f"Param {name!r}: {what} must be a finite number, got {v!r}")
    if isinstance(v, numbers.Integral):
        return int(v)
    f = float(v)
    if not math.isfinite(f):
        raise ValueError(f"Param {name!r}: {what} must be a finite number, got {v!r}")
    return f


@dataclass(frozen=True)
class Param:
    """One slider of an :func:`explorer`.

    ``name`` is the keyword passed to ``draw``; ``label`` the slider's description.
    ``grid``: the values precomputed for the static page (strictly increasing, finite).
    ``low``/``high``: the live slider's range (default: the grid's min and max), which must
    contain the grid; ``step``: the live slider's step (default 1 for an integer parameter,
    else 1/100 of the range).  ``value``: the starting value, one of the grid values
    (default the first), so that both modes open on the same figure.  A parameter is an
    integer parameter (an ``IntSlider``) when the grid, ``low``, ``high``, ``step`` and
    ``value`` are all integers.  ``fmt`` formats a grid value for the static slider's readout.
    """

    name: str
    label: str
    grid: Sequence[Number]
    low: Number | None = None
    high: Number | None = None
    step: Number | None = None
    value: Number | None = None
    fmt: str = "{:g}"
    is_int: bool = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"Param name must be a Python identifier (a keyword of draw), "
                             f"got {self.name!r}")
        if not isinstance(self.label, str) or not self.label:
            raise ValueError(f"Param {self.name!r}: label must be a non-empty string")
        if isinstance(self.grid, (str, bytes)) or not isinstance(self.grid, Sequence):
            try:
                grid = list(self.grid)  # numpy arrays, ranges
            except TypeError:
                raise ValueError(f"Param {self.name!r}: grid must be a sequence of numbers, "
                                 f"got {self.grid!r}") from None
        else:
            grid = list(self.grid)
        if not grid:
            raise ValueError(f"Param {self.name!r}: grid must be non-empty")
        grid = [_as_number(self.name, "every grid value", v) for v in grid]
        if any(b <= a for a, b in itertools.pairwise(grid)):
            raise ValueError(f"Param {self.name!r}: grid must be strictly increasing, "
                             f"got {grid}")
        low = grid[0] if self.low is None else _as_number(self.name, "low", self.low)
        high = grid[-1] if self.high is None else _as_number(self.name, "high", self.high)
        if not low <= grid[0] or not grid[-1] <= high:
            raise ValueError(f"Param {self.name!r}: need low <= every grid value <= high, got "
                             f"low = {low}, grid = {grid}, high = {high}")
        is_int = all(_is_int(v) for v in (*grid, low, high))
        if self.step is None:
            step: Number = 1 if is_int else (high - low) / 100 or 1.0
        else:
            step = _as_number(self.name, "step", self.step)
            if step <= 0:
                raise ValueError(f"Param {self.name!r}: step must be > 0, got {step}")
            is_int = is_int and _is_int(step)
        if self.value is None:
            value = grid[0]
        else:
            value = _as_number(self.name, "value", self.value)
            if value not in grid:
                raise ValueError(f"Param {self.name!r}: value must be one of the grid values "
                                 f"{grid}, got {value}")
            is_int = is_int and _is_int(value)
        try:
            self.fmt.format(grid[0])
        except (ValueError, IndexError, KeyError, AttributeError):
            raise ValueError(f"Param {self.name!r}: fmt must format a number, e.g. '{{:g}}', "
                             f"got {self.fmt!r}") from None
        if len(set(self.fmt.format(v) for v in grid)) != len(grid):
            raise ValueError(f"Param {self.name!r}: fmt {self.fmt!r} gives two grid values the "
                             f"same label; use more digits")
        if not is_int:
            grid = [float(v) for v in grid]
            low, high, step, value = float(low), float(high), float(step), float(value)
        for attr, v in (("grid", tuple(grid)), ("low", low), ("high", high), ("step", step),
                        ("value", value), ("is_int", is_int)):
            object.__setattr__(self, attr, v)

    @property
    def labels(self) -> list[str]:
        """The grid values formatted with ``fmt`` (the static slider's readout)."""
        return [self.fmt.format(v) for v in self.grid]


def mode() -> Literal["static", "live"]:
    """``"static"`` when the environment sets ``ICLBOOK_WIDGETS=static`` (the book build),
    else ``"live"``."""
    return "static" if os.environ.get("ICLBOOK_WIDGETS", "").strip().lower() == "static" \
        else "live"


def render_png(fig: Figure, dpi: int = FRAME_DPI) -> bytes:
    """The PNG bytes of ``fig`` at ``dpi``, without metadata (identical on every run)."""
    dpi = check_positive_int("dpi", dpi)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def _check_params(draw: Callable[..., Figure], params: Sequence[Param]) -> list[Param]:
    if not callable(draw):
        raise ValueError(f"draw must be a callable returning a matplotlib Figure, got {draw!r}")
    params = list(params)
    if not params:
        raise ValueError("params must hold at least one Param")
    for p in params:
        if not isinstance(p, Param):
            raise ValueError(f"params must be Param objects, got {p!r}")
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        raise ValueError(f"params must have distinct names, got {names}")
    try:
        inspect.signature(draw).bind(**{p.name: p.value for p in params})
    except TypeError as err:
        raise ValueError(f"draw cannot be called with the keywords {names}: {err}") from None
    except ValueError:  # no signature available (builtins): let the first call tell
        pass
    return params


def _draw_checked(draw: Callable[..., Figure], values: dict[str, Number]) -> Figure:
    fig = draw(**values)
    if not isinstance(fig, Figure):
        raise ValueError(f"draw must return a matplotlib Figure, got {type(fig).__name__} "
                         f"for {values}")
    return fig


def _header(title: str | None) -> list[widgets.Widget]:
    return [widgets.HTML(f"<b>{title}</b>")] if title else []


def step_decimals(step: Number) -> int:
    """Decimal places a readout needs to show every value of a slider moving by ``step``.

    A step written with ``k`` decimals (``0.005``: 3, ``0.25``: 2, ``2``: 0) needs ``k``;
    a step with no short decimal form (``1/30``) gets one digit more than its first
    significant one (``0.0333...``: 3), enough to tell neighbouring values apart.
    """
    if isinstance(step, bool) or not isinstance(step, numbers.Real):
        raise ValueError(f"step must be a finite number > 0, got {step!r}")
    step = float(step)
    if not math.isfinite(step) or step <= 0:
        raise ValueError(f"step must be a finite number > 0, got {step!r}")
    for k in range(0, 7):
        if abs(round(step, k) - step) <= 1e-10 * step:
            return k
    return max(0, math.ceil(-math.log10(step))) + 1


def readout_format(p: Param) -> str:
    """The live slider's readout format (d3-format, as ipywidgets uses): integer sliders
    ``"d"``, float sliders ``".kf"`` with ``k = step_decimals(step)``, so that the readout
    shows the value exactly to the precision of the step (``0.005`` steps: ``0.035``)."""
    return "d" if p.is_int else f".{step_decimals(p.step)}f"


def _live(draw: Callable[..., Figure], params: list[Param], title: str | None,
          dpi: int) -> widgets.VBox:
    sliders: dict[str, widgets.Widget] = {}
    for p in params:
        cls = widgets.IntSlider if p.is_int else widgets.FloatSlider
        sliders[p.name] = cls(value=p.value, min=p.low, max=p.high, step=p.step,
                              description=p.label, continuous_update=False,
                              readout_format=readout_format(p),
                              style={"description_width": "initial"},
                              layout=widgets.Layout(width="420px"))

    def render() -> bytes:
        fig = _draw_checked(draw, {name: s.value for name, s in sliders.items()})
        try:
            return render_png(fig, dpi)
        finally:
            plt.close(fig)

    image = widgets.Image(value=render(), format="png")

    def update(_change: object = None) -> None:
        image.value = render()

    for s in sliders.values():
        s.observe(update, names="value")
    box = widgets.VBox([*_header(title), *sliders.values(), image])
    box.sliders = sliders  # type: ignore[attr-defined]
    box.image = image  # type: ignore[attr-defined]
    return box


def _render_frame(draw: Callable[..., Figure], params: list[Param], idx: tuple[int, ...],
                  dpi: int) -> bytes:
    fig = _draw_checked(draw, {p.name: p.grid[i] for p, i in zip(params, idx, strict=True)})
    try:
        return render_png(fig, dpi)
    finally:
        plt.close(fig)


#: The frames a forked worker renders: ``(draw, params, order, dpi)``, set before the fork
#: (``draw`` is often a notebook lambda, which cannot be pickled for a worker).
_FRAME_JOB: tuple | None = None


def _init_frame_worker() -> None:
    """Forked frame worker: one thread for any PyTorch code a ``draw`` might call."""
    import sys

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)


def _render_frame_at(k: int) -> bytes:
    assert _FRAME_JOB is not None
    draw, params, order, dpi = _FRAME_JOB
    return _render_frame(draw, params, order[k], dpi)


def frame_workers(n_frames: int) -> int:
    """Processes that render the static frames of one explorer: one per available core
    (``ICLBOOK_WORKERS`` overrides, as for :func:`iclbook.core.parallel.default_workers`), at most
    one per 8 frames, and 1 off Linux (workers are forked, which is safe on Linux only; the
    frames are the same PNG bytes whatever the count: each is drawn from scratch, by the
    same code, at the same dpi)."""
    import sys

    from .parallel import default_workers

    n_frames = check_positive_int("n_frames", n_frames)
    if not sys.platform.startswith("linux"):
        return 1  # pragma: no cover - macOS, Windows
    return max(1, min(default_workers(n_frames), n_frames // 8))


def _render_frames(draw: Callable[..., Figure], params: list[Param],
                   order: list[tuple[int, ...]], dpi: int) -> list[bytes]:
    """PNG bytes of every frame in ``order``, rendered on :func:`frame_workers` processes.

    Static frames are rendered at build time, where matplotlib's drawing dominates a
    chapter's run (about 0.1 s a frame, up to 64 frames an explorer); independent frames
    are drawn side by side in forked workers, which inherit ``draw`` as it is.
    """
    global _FRAME_JOB
    workers = frame_workers(len(order))
    if workers == 1:
        return [_render_frame(draw, params, idx, dpi) for idx in order]
    import multiprocessing

    _FRAME_JOB = (draw, params, order, dpi)
    try:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(workers, initializer=_init_frame_worker) as pool:
            return pool.map(_render_frame_at, range(len(order)),
                            chunksize=max(1, len(order) // (4 * workers)))
    finally:
        _FRAME_JOB = None


def _static(draw: Callable[..., Figure], params: list[Param], title: str | None,
            max_frames: int, dpi: int) -> widgets.VBox:
    n_frames = math.prod(len(p.grid) for p in params)
    if n_frames > max_frames:
        sizes = " x ".join(str(len(p.grid)) for p in params)
        raise ValueError(f"a static explorer holds at most max_frames = {max_frames} frames; "
                         f"the grids give {sizes} = {n_frames}: use coarser grids or split "
                         f"the explorer")
    order = list(itertools.product(*(range(len(p.grid)) for p in params)))
    frames = dict(zip(order, _render_frames(draw, params, order, dpi), strict=True))
    total = sum(len(b) for b in frames.values())
    if total > MAX_STATIC_BYTES:
        raise ValueError(f"the {n_frames} frames take {total / 1e6:.2f} MB, more than "
                         f"{MAX_STATIC_BYTES / 1e6:.1f} MB: lower dpi, shrink the figure or "
                         f"use coarser grids")

    sliders = [widgets.SelectionSlider(options=list(zip(p.labels, p.grid, strict=True)),
                                       value=p.value, description=p.label,
                                       continuous_update=True,
                                       style={"description_width": "initial"},
                                       layout=widgets.Layout(width="420px"))
               for p in params]
    start = [p.grid.index(p.value) for p in params]
    stacks_by_level: list[list[widgets.Stack]] = [[] for _ in params]

    def build(level: int, prefix: tuple[int, ...]) -> widgets.Widget:
        if level == len(params):
            return widgets.Image(value=frames[prefix], format="png")
        children = [build(level + 1, prefix + (i,)) for i in range(len(params[level].grid))]
        stack = widgets.Stack(children, selected_index=start[level])
        stacks_by_level[level].append(stack)
        return stack

    top = build(0, ())
    links = [widgets.jslink((slider, "index"), (stack, "selected_index"))
             for slider, stacks in zip(sliders, stacks_by_level, strict=True) for stack in stacks]
    box = widgets.VBox([*_header(title), *sliders, top])
    box.sliders = dict(zip([p.name for p in params], sliders, strict=True))  # type: ignore
    box.stacks = stacks_by_level  # type: ignore[attr-defined]
    box.links = links  # type: ignore[attr-defined]
    box.frames = frames  # type: ignore[attr-defined]
    return box


def explorer(draw: Callable[..., Figure], params: Sequence[Param], *, title: str | None = None,
             max_frames: int = MAX_FRAMES, dpi: int = FRAME_DPI,
             live_dpi: int = LIVE_DPI) -> widgets.VBox:
    """An interactive figure ``draw(**values)`` with one slider per :class:`Param`.

    Live mode (:func:`mode` is ``"live"``): ``IntSlider``/``FloatSlider`` over each
    parameter's continuous range and an ``Image`` that ``draw`` re-renders (at ``live_dpi``)
    whenever a slider changes.  An ``Image`` rather than an ``Output`` widget: outputs
    captured by an ``Output`` widget are routed by the front end, and front ends without that
    routing (nbval, some notebook viewers) would show the figure a second time below the
    widget; an ``Image`` is plain widget state everywhere.
    Static mode (the book build): every combination of the grids is rendered to a PNG at
    ``dpi``; one ``SelectionSlider`` per parameter picks a frame through ``jslink`` s to
    nested ``Stack`` widgets, entirely in the browser.  At most ``max_frames`` frames
    (``<= MAX_FRAMES``) and ``MAX_STATIC_BYTES`` bytes, else ``ValueError``.

    Returns the top-level ``VBox`` (end the notebook cell with the call).  Its attributes
    ``sliders`` (name -> slider), in live mode ``image`` and, in static mode, ``stacks``
    (per level), ``links`` and ``frames`` (grid index tuple -> PNG bytes) are there for
    tests.  Figures are closed
    after rendering, so no extra static image appears below the widget.
    """
    params = _check_params(draw, params)
    max_frames = check_positive_int("max_frames", max_frames)
    if max_frames > MAX_FRAMES:
        raise ValueError(f"max_frames must be an integer in 1..{MAX_FRAMES}, got {max_frames}")
    dpi = check_positive_int("dpi", dpi)
    live_dpi = check_positive_int("live_dpi", live_dpi)
    if title is not None and not isinstance(title, str):
        raise ValueError(f"title must be a string or None, got {title!r}")
    if mode() == "static":
        return _static(draw, params, title, max_frames, dpi)
    return _live(draw, params, title, live_dpi)
