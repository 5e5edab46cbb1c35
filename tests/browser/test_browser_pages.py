"""Every page of the built book, in a real browser (Chromium through Playwright), offline.

For each page: no script errors (beyond ``conftest.ALLOWED_ERRORS``), nothing fetched from
outside 127.0.0.1 and no missing file; all maths typeset by MathJax and no raw TeX left in the
text; every image loaded; every internal link and anchor resolves. A screenshot of each page
is saved. The widget tests are in ``test_widget_sliders.py``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urlsplit

from booksite import ALLOWED_ERRORS, HTML_DIR, parse_page

# Raw TeX that MathJax should have replaced: display/inline delimiters, environments, and a
# $...$ span holding a TeX command (e.g. a widget label written with dollars).
RAW_TEX = [
    ("$$", re.compile(r"\$\$")),
    (r"\(", re.compile(r"\\\(")),
    (r"\[", re.compile(r"\\\[")),
    (r"\begin{", re.compile(r"\\begin\{")),
    ("$\\cmd$", re.compile(r"\$[^$\n]{0,200}?\\[A-Za-z]+[^$\n]{0,200}?\$")),
]


def test_no_script_errors(page: str, visits: Any) -> None:
    visit = visits(page)
    unexpected = visit.unexpected_errors()
    allowed = "\n".join(f"  - {p.pattern}: {why}" for p, why in ALLOWED_ERRORS)
    assert not unexpected, (
        f"{page}: errors in the browser console:\n  " + "\n  ".join(unexpected)
        + f"\n(allowed, with reasons:\n{allowed})"
    )


def test_offline_and_no_missing_files(page: str, visits: Any) -> None:
    visit = visits(page)
    external = sorted(set(visit.external_requests))
    assert not external, (
        f"{page} tried to load from outside the build (the book must work offline):\n  "
        + "\n  ".join(external)
    )
    failed = sorted(set(visit.failed_requests))
    assert not failed, f"{page}: requests that failed:\n  " + "\n  ".join(failed)


def test_maths_typeset(page: str, visits: Any) -> None:
    visit = visits(page)
    rep = visit.report
    static = parse_page(_target_file(urlsplit(rep["url"]).path))  # after any redirect
    if static.math or rep["math_elements"]:
        assert rep["mathjax"] and rep["mathjax"].startswith("3."), (
            f"{page} has {rep['math_elements']} maths elements but MathJax 3 did not load "
            f"(window.MathJax.version = {rep['mathjax']!r})"
        )
        assert not rep["math_untypeset"], (
            f"{page}: maths left untypeset: {rep['math_untypeset'][:5]}"
        )
        assert rep["mjx_containers"] >= rep["math_elements"], (
            f"{page}: {rep['math_elements']} maths elements but only "
            f"{rep['mjx_containers']} MathJax containers"
        )
    assert not rep["mjx_errors"], f"{page}: TeX errors shown by MathJax: {rep['mjx_errors']}"
    raw = []
    for name, pattern in RAW_TEX:
        for m in pattern.finditer(rep["text"]):
            lo, hi = max(0, m.start() - 40), min(len(rep["text"]), m.end() + 40)
            raw.append(f"{name!s}: ...{rep['text'][lo:hi]}...")
    assert not raw, f"{page}: raw TeX in the page text:\n  " + "\n  ".join(raw[:10])


def test_images_load(page: str, visits: Any) -> None:
    broken = [i["src"][:120] for i in visits(page).report["images"] if i["width"] <= 0]
    assert not broken, f"{page}: images that did not load (naturalWidth 0): {broken}"


def _target_file(path: str) -> Path:
    rel = unquote(path).lstrip("/")
    target = HTML_DIR / rel
    if rel == "" or rel.endswith("/") or target.is_dir():
        target = target / "index.html"
    return target


def test_internal_links_resolve(page: str, visits: Any, server: str) -> None:
    visit = visits(page)
    here = urldefrag(visit.report["url"])[0]
    bad = []
    for href in sorted(set(visit.report["links"])):
        if not href.startswith(server):
            continue  # external (GitHub, Binder, Colab): not followed offline
        url, frag = urldefrag(href)
        target = _target_file(urlsplit(url).path)
        if not target.is_file():
            bad.append(f"{href}: no file {target.relative_to(HTML_DIR)}")
            continue
        frag = unquote(frag)
        if not frag or target.suffix != ".html":
            continue
        ids = set(parse_page(target).ids)
        if url == here:
            ids |= set(visit.report["ids"])  # also ids made by scripts on this page
        if frag not in ids:
            bad.append(f"{href}: no id {frag!r} in {target.relative_to(HTML_DIR)}")
    assert not bad, f"{page}: broken internal links:\n  " + "\n  ".join(bad)


def test_screenshot_saved(page: str, visits: Any) -> None:
    visit = visits(page)
    assert visit.screenshot is not None and visit.screenshot.stat().st_size > 0
