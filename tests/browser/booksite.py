"""Shared helpers of the browser tests: where the build is, reading its pages, loading a page.

The tests check the HTML that ``scripts/build_book.sh`` wrote to ``_build/html`` (another
folder with ``ICLBOOK_HTML_DIR``). Screenshots go to ``_build/screenshots``
(``ICLBOOK_SCREENSHOTS``).
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
HTML_DIR = Path(os.environ.get("ICLBOOK_HTML_DIR", REPO / "_build" / "html")).resolve()
SCREENSHOTS = Path(os.environ.get("ICLBOOK_SCREENSHOTS", HTML_DIR.parent / "screenshots"))
NO_BUILD = "<no built book>"
NO_WIDGETS = "<no widgets>"
HOW_TO_BUILD = f"no built book in {HTML_DIR}: run `bash scripts/build_book.sh` first"
HOW_TO_BROWSER = (
    "browser tests skipped: no Chromium for Playwright. Enable them with "
    "`apt-get install -y chromium` (Debian/Ubuntu; or set ICLBOOK_CHROMIUM=/path/to/chrome) "
    "or `.venv/bin/python -m playwright install chromium`"
)
LAUNCH_ARGS = [
    "--no-sandbox",  # the tests may run as root (CI containers)
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# Browser messages that are not failures, each with its reason. Matched against
# "pageerror: <message>" (uncaught exceptions) and "console.error: <text>".
ALLOWED_ERRORS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(r"^console\.error: Got invalid theme mode: \. Resetting to auto\.$"),
        "pydata-sphinx-theme 0.15 starts every page with data-mode = localStorage 'mode' or "
        "the theme's default_mode, which is empty; on a fresh browser profile its script "
        "logs this and switches to 'auto' (light/dark from the OS). Harmless.",
    ),
]


def built_pages() -> list[str]:
    """Every HTML page of the build, as paths relative to the build folder."""
    if not (HTML_DIR / "index.html").is_file():
        return []
    skip = {"_static", "_sources", "_images", "_downloads"}
    return sorted(
        p.relative_to(HTML_DIR).as_posix()
        for p in HTML_DIR.rglob("*.html")
        if not skip.intersection(p.relative_to(HTML_DIR).parts[:-1])
    )


# --- static reading of the built HTML ---------------------------------------------------


class _PageParser(HTMLParser):
    """Collects what the tests need from one built page, without a browser."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.imgs: list[str] = []
        self.scripts: list[str] = []
        self.stylesheets: list[str] = []
        self.math = 0
        self.widget_state: str | None = None
        self.widget_views: list[str] = []
        self.refresh: str | None = None
        self._script_type: str | None = None
        self._script_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "a" and "name" in a:
            self.ids.add(a["name"])
        if tag == "img" and a.get("src"):
            self.imgs.append(a["src"])
        if tag == "script":
            if a.get("src"):
                self.scripts.append(a["src"])
            self._script_type = a.get("type", "")
            self._script_text = []
        if tag == "link" and "stylesheet" in a.get("rel", "").split() and a.get("href"):
            self.stylesheets.append(a["href"])
        if tag == "meta" and a.get("http-equiv", "").lower() == "refresh":
            m = re.search(r"url=(.+)$", a.get("content", ""), flags=re.I)
            self.refresh = m.group(1).strip() if m else None
        if tag in ("span", "div") and "math" in a.get("class", "").split():
            self.math += 1

    def handle_data(self, data: str) -> None:
        if self._script_type is not None:
            self._script_text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script_type is not None:
            text = "".join(self._script_text)
            if self._script_type == WIDGET_STATE:
                self.widget_state = text
            elif self._script_type == WIDGET_VIEW:
                self.widget_views.append(json.loads(text)["model_id"])
            self._script_type = None


@functools.cache
def parse_page(path: Path) -> _PageParser:
    """The parsed built page at ``path`` (cached: pages do not change during a run)."""
    parser = _PageParser()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


def widget_pages() -> list[str]:
    """The built pages that embed widget views."""
    return [p for p in built_pages() if parse_page(HTML_DIR / p).widget_views]


# --- one visit per page, shared by the tests ------------------------------------------

_WAIT_WIDGETS = f"""() => [...document.querySelectorAll('script[type="{WIDGET_VIEW}"]')].every(
    s => s.parentElement.querySelector('.jupyter-widgets'))"""

_WAIT_IMAGES = """() => Promise.all([...document.images].map(i => i.complete ? null :
    new Promise(r => { i.addEventListener('load', r); i.addEventListener('error', r); })))"""

_WAIT_MATHJAX = """async () => {
    if (!window.MathJax) return null;
    for (let i = 0; i < 40 && !(MathJax.startup && MathJax.startup.promise); i++)
        await new Promise(r => setTimeout(r, 50));
    if (MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
    return MathJax.version || null;
}"""

# What a finished page shows: maths, images, links, and raw TeX left in the text.
REPORT_JS = r"""() => {
    const skip = 'pre, code, script, style, textarea, mjx-container, head';
    const texts = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        if (n.parentElement && !n.parentElement.closest(skip)) texts.push(n.textContent);
    }
    const maths = [...document.querySelectorAll('span.math, div.math')];
    return {
        url: location.href,
        mathjax: window.MathJax && window.MathJax.version || null,
        math_elements: maths.length,
        math_untypeset: maths.filter(e => !e.querySelector('mjx-container'))
                             .map(e => e.textContent.trim().slice(0, 80)),
        mjx_containers: document.querySelectorAll('mjx-container').length,
        mjx_errors: [...document.querySelectorAll('mjx-merror')]
                        .map(e => e.getAttribute('data-mjx-error') || e.textContent).slice(0, 10),
        text: texts.join(' '),
        images: [...document.images].map(i => ({src: i.currentSrc || i.src,
            width: i.naturalWidth, complete: i.complete})),
        links: [...document.querySelectorAll('a[href]')].map(a => a.href),
        ids: [...document.querySelectorAll('[id]')].map(e => e.id),
    };
}"""


@dataclass
class Visit:
    """What one load of one page recorded."""

    page: str
    url: str = ""
    errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    widgets_rendered: bool = True
    screenshot: Path | None = None

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p, _ in ALLOWED_ERRORS)]


def open_page(browser: Any, base: str, page: str) -> tuple[Any, Any, Visit]:
    """A fresh browser context and tab on ``page``, loaded, maths and widgets rendered.

    Requests that leave ``base`` are aborted and recorded in ``Visit.external_requests``.
    """
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    visit = Visit(page)

    def route(r: Any) -> None:
        url = r.request.url
        if url.startswith(base):
            r.continue_()
        else:
            visit.external_requests.append(url)
            r.abort()

    context.route("**/*", route)
    tab = context.new_page()
    tab.on("pageerror", lambda e: visit.errors.append(f"pageerror: {e}"))
    tab.on("console", lambda m: visit.errors.append(f"console.error: {m.text}")
           if m.type == "error" else None)
    tab.on("requestfailed", lambda r: None if not r.url.startswith(base)
           else visit.failed_requests.append(f"{r.url} ({r.failure})"))
    tab.on("response", lambda r: visit.failed_requests.append(f"{r.url} (HTTP {r.status})")
           if r.status >= 400 else None)

    target = page
    refresh = parse_page(HTML_DIR / page).refresh
    if refresh:  # e.g. the root index.html, a redirect to the book's first page
        target = (Path(page).parent / refresh).as_posix()
    tab.goto(base + page, wait_until="load")
    if refresh:
        tab.wait_for_url(base + target, timeout=15_000)
        tab.wait_for_load_state("load")
    tab.evaluate(_WAIT_MATHJAX)
    try:
        tab.wait_for_function(_WAIT_WIDGETS, timeout=30_000)
    except Exception:  # noqa: BLE001 - reported by the widget test
        visit.widgets_rendered = False
    tab.evaluate(_WAIT_IMAGES)
    tab.evaluate(_WAIT_MATHJAX)  # widget labels are typeset after the widgets render
    visit.url = tab.url
    return context, tab, visit


