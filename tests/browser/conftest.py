"""Fixtures of the browser tests: the built book, a local web server, a headless Chromium.

Pages are served over HTTP from 127.0.0.1 by a thread of the test process; every request that
leaves 127.0.0.1 is blocked and recorded (``booksite.open_page``), so a page that needs the
network fails. Chromium is driven by Playwright: Debian's ``/usr/bin/chromium`` (or
``ICLBOOK_CHROMIUM``), else Playwright's own browser; with neither, the browser tests skip and
say how to install one. Helpers live in ``booksite.py``.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from booksite import (
    HOW_TO_BROWSER,
    HOW_TO_BUILD,
    HTML_DIR,
    LAUNCH_ARGS,
    NO_BUILD,
    NO_WIDGETS,
    REPORT_JS,
    SCREENSHOTS,
    Visit,
    built_pages,
    open_page,
    widget_pages,
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``page``: every built page; ``widget_page``: every built page with widgets."""
    for name in ("page", "widget_page"):
        if name in metafunc.fixturenames:
            pages = built_pages() if name == "page" else widget_pages()
            pages = pages or [NO_BUILD if not built_pages() else NO_WIDGETS]
            metafunc.parametrize(name, pages, ids=[p.replace("/", ":") for p in pages],
                                 indirect=True)


def _skip_sentinel(value: str) -> str:
    if value == NO_BUILD:
        pytest.skip(HOW_TO_BUILD)
    if value == NO_WIDGETS:
        pytest.skip("no page of this build has widgets")
    return value


@pytest.fixture
def page(request: pytest.FixtureRequest) -> str:
    return _skip_sentinel(request.param)


@pytest.fixture
def widget_page(request: pytest.FixtureRequest) -> str:
    return _skip_sentinel(request.param)


@pytest.fixture(scope="session")
def site() -> Path:
    if not (HTML_DIR / "index.html").is_file():
        pytest.skip(HOW_TO_BUILD)
    return HTML_DIR


# --- local web server and browser ---------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="session")
def server(site: Path) -> Iterator[str]:
    """Base URL (ending in /) of an HTTP server on 127.0.0.1 serving the build."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def _chromium_candidates() -> list[str | None]:
    env = os.environ.get("ICLBOOK_CHROMIUM")
    if env:
        return [env]
    found = [shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")]
    return [p for p in found if p] + [None]  # None: Playwright's own browser


def _no_browser(message: str) -> NoReturn:
    """Skip, or fail where ICLBOOK_REQUIRE_BROWSER=1 (CI: .ci/run installs Chromium)."""
    if os.environ.get("ICLBOOK_REQUIRE_BROWSER") == "1":
        pytest.fail(message.replace("skipped", "cannot run") + " (ICLBOOK_REQUIRE_BROWSER=1)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        _no_browser("browser tests skipped: Playwright is not installed "
                    "(`.venv/bin/pip install -r requirements-test.txt`)")
    pw = sync_playwright().start()
    errors = []
    for exe in _chromium_candidates():
        try:
            b = pw.chromium.launch(executable_path=exe, args=LAUNCH_ARGS)
        except Error as err:
            errors.append(f"{exe or 'playwright chromium'}: {str(err).splitlines()[0]}")
            continue
        yield b
        b.close()
        pw.stop()
        return
    pw.stop()
    _no_browser(HOW_TO_BROWSER + " [tried: " + "; ".join(errors) + "]")


@pytest.fixture(scope="session")
def visits(browser: Any, server: str) -> Callable[[str], Visit]:
    """``visits(page)``: load ``page`` once per session, take a screenshot, report."""
    cache: dict[str, Visit] = {}
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def get(page: str) -> Visit:
        if page not in cache:
            context, tab, visit = open_page(browser, server, page)
            try:
                visit.report = tab.evaluate(REPORT_JS)
                shot = SCREENSHOTS / (page.removesuffix(".html").replace("/", "__") + ".png")
                tab.screenshot(path=str(shot), full_page=True)
                visit.screenshot = shot
            finally:
                context.close()
            cache[page] = visit
        return cache[page]

    return get
