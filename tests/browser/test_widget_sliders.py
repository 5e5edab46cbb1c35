"""The static widgets work in the browser with no kernel: every slider switches the figure.

For every page with embedded widget state, every rendered widget (one ``widget-view`` script)
is driven with the keyboard, as a reader would: each ``SelectionSlider`` handle is focused
and moved with Home / ArrowRight / ArrowLeft. The sliders of one widget are walked through
every combination of their positions in a snake order (each step moves one slider by one
position), and at every step

- the slider's readout shows the option label of its new position (the slider moved), and
- the visible image's ``src`` changes (the ``jslink`` switched the ``Stack``), and
- for an ``iclbook.core.widgets.explorer`` (sliders, then nested Stacks one level per slider, with
  Images as leaves), the image shown is byte-for-byte the frame precomputed for those
  positions (compared by SHA-256).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from booksite import HTML_DIR, open_page, parse_page

MAX_STEPS = 400  # guards the runtime; explorers hold at most 64 frames


def _refs(value: Any) -> list[str]:
    """Model ids referenced ('IPY_MODEL_<id>') anywhere in a model's state, in order."""
    if isinstance(value, str):
        return [value[len("IPY_MODEL_"):]] if value.startswith("IPY_MODEL_") else []
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    if isinstance(value, dict):
        return [r for v in value.values() for r in _refs(v)]
    return []


def _name(models: dict[str, Any], mid: str) -> str:
    return models[mid]["state"].get("_model_name", models[mid].get("model_name", ""))


def _descendants(models: dict[str, Any], root: str) -> list[str]:
    """Depth-first order of the widgets under ``root`` (layouts and styles left out)."""
    out: list[str] = []

    def walk(mid: str) -> None:
        if mid not in models or mid in out:
            return
        out.append(mid)
        for child in models[mid]["state"].get("children", []) or []:
            for ref in _refs(child):
                walk(ref)

    walk(root)
    return out


def _image_sha(models: dict[str, Any], mid: str) -> str | None:
    for buf in models[mid].get("buffers", []) or []:
        if buf.get("path") == ["value"] and buf.get("encoding", "base64") == "base64":
            return hashlib.sha256(base64.b64decode(buf["data"])).hexdigest()
    return None


def _expected_frames(models: dict[str, Any], tree: list[str], n_sliders: int
                     ) -> dict[tuple[int, ...], str] | None:
    """Frame hash per slider-index tuple if ``tree`` is an explorer's, else None."""
    stacks = [m for m in tree if _name(models, m) == "StackModel"]
    if not stacks or n_sliders == 0:
        return None
    top = stacks[0]
    frames: dict[tuple[int, ...], str] = {}

    def walk(mid: str, prefix: tuple[int, ...]) -> bool:
        name = _name(models, mid)
        if len(prefix) == n_sliders:
            sha = _image_sha(models, mid) if name == "ImageModel" else None
            if sha is None:
                return False
            frames[prefix] = sha
            return True
        if name != "StackModel":
            return False
        kids = [r for c in models[mid]["state"].get("children", []) for r in _refs(c)]
        return all(walk(k, prefix + (i,)) for i, k in enumerate(kids))

    return frames if walk(top, ()) else None


def _snake(sizes: list[int]) -> list[tuple[int, ...]]:
    """Every index tuple, consecutive ones differing by one step of one coordinate."""
    if not sizes:
        return [()]
    rest = _snake(sizes[1:])
    return [(i, *t) for i in range(sizes[0]) for t in (rest if i % 2 == 0 else rest[::-1])]


_CONTAINER_OF = """(id) => {
    const views = document.querySelectorAll(
        'script[type="application/vnd.jupyter.widget-view+json"]');
    const s = [...views].find(v => JSON.parse(v.textContent).model_id === id);
    return s ? s.parentElement : null;
}"""

_STATE_OF = """(container) => {
    const sliders = [...container.querySelectorAll('.widget-slider')].map(s => ({
        label: (s.querySelector('.widget-label') || {}).textContent || '',
        readout: (s.querySelector('.widget-readout') || {}).textContent || ''}));
    const imgs = [...container.querySelectorAll('img')].filter(i => i.checkVisibility());
    return {sliders, srcs: imgs.map(i => i.src)};
}"""

_VISIBLE_SHA = """async (container) => {
    const img = [...container.querySelectorAll('img')].filter(i => i.checkVisibility())[0];
    if (!img) return null;
    const buf = await (await fetch(img.src)).arrayBuffer();
    const h = await crypto.subtle.digest('SHA-256', buf);
    return [...new Uint8Array(h)].map(b => b.toString(16).padStart(2, '0')).join('');
}"""

_SRC_CHANGED = """([container, before]) => {
    const imgs = [...container.querySelectorAll('img')].filter(i => i.checkVisibility());
    return imgs.length > 0 && imgs.map(i => i.src).join(' ') !== before;
}"""


def _drive(tab: Any, models: dict[str, Any], root: str) -> tuple[int, list[str]]:
    """Walk the SelectionSliders of widget ``root`` through every combination of positions.

    Returns the number of positions checked and the failures found.
    """
    tree = _descendants(models, root)
    sliders = [m for m in tree if _name(models, m).endswith("SliderModel")]
    selection = [i for i, m in enumerate(sliders) if _name(models, m) == "SelectionSliderModel"]
    if not selection:
        return 0, []
    container = tab.evaluate_handle(_CONTAINER_OF, root).as_element()
    if container is None:
        return 0, [f"widget {root}: not rendered"]
    labels = [models[m]["state"].get("description", "") for m in sliders]
    dom = tab.evaluate(_STATE_OF, container)
    if [s["label"] for s in dom["sliders"]] != labels:
        return 0, [f"widget {root}: rendered sliders {dom['sliders']}, state has {labels}"]
    options = [models[sliders[i]]["state"]["_options_labels"] for i in selection]
    handles = container.query_selector_all(".widget-slider .noUi-handle")
    frames = (_expected_frames(models, tree, len(selection))
              if len(selection) == len(sliders) else None)
    failures: list[str] = []
    checked = stuck = 0
    for i in selection:  # start from position 0 of every slider
        handles[i].focus()
        tab.keyboard.press("Home")
    path = _snake([len(o) for o in options])[:MAX_STEPS]
    previous = path[0]
    for step, pos in enumerate(path):
        where = f"start {pos}"
        if step > 0:
            k = next(j for j in range(len(pos)) if pos[j] != previous[j])
            before = " ".join(tab.evaluate(_STATE_OF, container)["srcs"])
            handles[selection[k]].focus()
            tab.keyboard.press("ArrowRight" if pos[k] > previous[k] else "ArrowLeft")
            where = f"{labels[selection[k]]!r} -> {options[k][pos[k]]!r} at {pos}"
            try:
                tab.wait_for_function(_SRC_CHANGED, arg=[container, before], timeout=5_000)
            except Exception:  # noqa: BLE001 - a timeout is the failure reported here
                failures.append(f"widget {root}: moving {where}: the image did not change")
                stuck += 1
            else:
                stuck = 0
            previous = pos
        want = [options[k][p] for k, p in enumerate(pos)]
        st = tab.evaluate(_STATE_OF, container)
        got = [st["sliders"][i]["readout"] for i in selection]
        if got != want:
            failures.append(f"widget {root}: {where}: readouts {got}, expected {want}")
        if frames is not None and tab.evaluate(_VISIBLE_SHA, container) != frames.get(pos):
            failures.append(f"widget {root}: {where}: the image shown is not the frame "
                            f"precomputed for {want}")
        checked += 1
        if stuck >= 3:
            failures.append(f"widget {root}: stopped after 3 moves in a row left the image "
                            f"unchanged")
            break
    return checked, failures


def test_widget_sliders_switch_frames(widget_page: str, browser: Any, server: str) -> None:
    page = widget_page
    static = parse_page(HTML_DIR / page)
    models = json.loads(static.widget_state or "{}")["state"]
    context, tab, visit = open_page(browser, server, page)
    try:
        assert visit.widgets_rendered, f"{page}: the widgets did not render within 30 s"
        results = [_drive(tab, models, root) for root in static.widget_views]
    finally:
        context.close()
    checked = sum(c for c, _ in results)
    failures = [f for _, fs in results for f in fs]
    print(f"{page}: {len(static.widget_views)} widgets, {checked} slider positions checked")
    assert not failures, (f"{page}: {len(failures)} widget failures ({checked} slider positions "
                          "checked):\n  " + "\n  ".join(failures[:20]))
    if checked == 0:
        pytest.skip(f"{page}: its widgets have no SelectionSlider")
