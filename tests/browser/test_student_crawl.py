"""The student edition leaks no solution: a browser crawls every page, link and button.

Every page of the student edition (each built HTML page, and every page reachable from the
first) is loaded in Chromium; every ``<a href>``, every button's target (``onclick`` URLs,
``data-url``/``data-href``) and every form or frame it offers is followed: same-site targets
are fetched (pages are loaded in the browser, other files -- the downloadable notebooks in
``_sources/``, the ``.md`` sources -- read as text) and searched for the solution text of
every chapter (the distinctive word windows of :mod:`iclbook.course.solutions`, collected
from the source notebooks); a target off the site may not lead to the full sources (the
repository, Binder, Colab, a JupyterHub pull, an edit or issues page).  Every page must also
say it is the student edition.

The student edition is built with stored outputs (``scripts/build_student_edition.sh
--stored-outputs``, minutes) unless ``ICLBOOK_STUDENT_HTML`` names a build to crawl.  The
figures of the crawl are printed (run with ``-s``).
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import os
import re
import subprocess
import threading
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest

from iclbook.course.solutions import all_distinctive, words
from iclbook.course.student import STUDENT_BANNER

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = re.search(r"^\s*url:\s*(\S+)", (ROOT / "_config.yml").read_text(encoding="utf-8"),
                       flags=re.M)[1].rstrip("/")
#: Off-site targets that would open the full sources, solutions included.
FORBIDDEN = [re.escape(urlsplit(REPOSITORY).netloc + urlsplit(REPOSITORY).path),
             r"mybinder\.org", r"colab\.research\.google\.com", r"/hub/user-redirect/",
             r"git-pull\?", r"binder", r"/edit/", r"/issues"]
#: What the crawl follows on a page: links, buttons and their targets.
TARGETS_JS = r"""() => {
    const out = [];
    const add = (kind, value) => { if (value) out.push([kind, value]); };
    document.querySelectorAll('a[href], area[href]').forEach(a => add('link', a.href));
    document.querySelectorAll('[onclick]').forEach(b => {
        const m = b.getAttribute('onclick').match(/['"]([^'"]+\/[^'"]*)['"]/g) || [];
        m.forEach(s => add('button', new URL(s.slice(1, -1), location.href).href));
        if (!m.length) add('button-action', b.getAttribute('onclick'));
    });
    document.querySelectorAll('[data-url], [data-href]').forEach(b =>
        add('button', new URL(b.dataset.url || b.dataset.href, location.href).href));
    document.querySelectorAll('form[action]').forEach(f => add('form', f.action));
    document.querySelectorAll('iframe[src]').forEach(f => add('frame', f.src));
    return out;
}"""


@pytest.fixture(scope="module")
def student_html(tmp_path_factory) -> Path:
    given = os.environ.get("ICLBOOK_STUDENT_HTML")
    if given:
        path = Path(given)
        if not (path / "index.html").is_file():
            pytest.fail(f"ICLBOOK_STUDENT_HTML={given} holds no built edition")
        return path
    out = tmp_path_factory.mktemp("student-crawl")
    subprocess.run(["bash", str(ROOT / "scripts" / "build_student_edition.sh"),
                    "--stored-outputs", "--out", str(out)], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)
    return out / "html"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def student_server(student_html: Path) -> Iterator[str]:
    handler = functools.partial(_Quiet, directory=str(student_html))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def _text_of_html(raw: str) -> str:
    # typeset maths is left out: it repeats the page's TeX, letter by letter ("h p 1 p N")
    raw = re.sub(r"<(script|style|mjx-container)\b.*?</\1>", " ", raw, flags=re.S)
    return words(html.unescape(re.sub(r"<[^>]+>", " ", raw)))


def _text_of_file(body: bytes, path: str) -> str:
    text = body.decode("utf-8", errors="replace")
    if path.endswith(".ipynb"):
        try:
            nb = json.loads(text)
        except ValueError:
            return words(text)
        parts = []
        for c in nb.get("cells", []):
            parts.append("".join(c.get("source", "")))
            for o in c.get("outputs", []):
                parts.append("".join(o.get("text", "")))
                for v in o.get("data", {}).values():
                    parts.append("".join(v) if isinstance(v, list) else str(v))
        return words("\n".join(parts))
    if path.endswith((".html", ".htm")):
        return _text_of_html(text)
    return words(text)


def crawl(browser: Any, base: str, site: Path) -> dict[str, Any]:
    """Visit every page and follow every link and button; return what was seen."""
    solutions = all_distinctive()
    fragments = sorted({f for frags in solutions.values() for f in frags})
    skip = {"_static", "_sources", "_images", "_downloads"}
    seeds = ["index.html"] + sorted(
        p.relative_to(site).as_posix() for p in site.rglob("*.html")
        if not skip.intersection(p.relative_to(site).parts[:-1]))
    queue = deque(urljoin(base, s) for s in seeds)
    seen_targets: set[str] = set()
    pages, files, external, forbidden, hits, no_banner, actions = [], [], set(), [], [], [], set()
    visited: set[str] = set()
    context = browser.new_context()
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base)
                  else r.abort())
    tab = context.new_page()

    def search(text: str, where: str) -> None:
        for f in fragments:
            if f" {f} " in text:
                hits.append((where, f))

    try:
        while queue:
            url = urldefrag(queue.popleft())[0]
            if url in visited:
                continue
            visited.add(url)
            path = url[len(base):]
            if path.endswith((".html", "/")) or path == "":
                pages.append(path or "index.html")
                raw = context.request.get(url).text()
                refresh = re.search(r'http-equiv="refresh"[^>]*url=([^"\s>]+)', raw, flags=re.I)
                if refresh:  # a redirect page (the root index.html): follow it
                    search(_text_of_html(raw), path)
                    seen_targets.add(f"redirect:{urljoin(url, refresh[1])}")
                    queue.append(urljoin(url, refresh[1]))
                    continue
                tab.goto(url, wait_until="load")
                raw = tab.content()
                text = _text_of_html(raw)
                search(text, path)
                if words(STUDENT_BANNER) not in text:
                    no_banner.append(path)
                for kind, target in tab.evaluate(TARGETS_JS):
                    if kind == "button-action":
                        actions.add(target)
                        continue
                    target = urldefrag(target)[0]
                    seen_targets.add(f"{kind}:{target}")
                    if target.startswith(base):
                        queue.append(target)
                    elif target.startswith(("http:", "https:", "//")):
                        external.add(target)
                        if any(re.search(p, target) for p in FORBIDDEN):
                            forbidden.append((path, target))
            else:
                response = context.request.get(url)
                if response.status >= 400:
                    continue
                files.append(path)
                search(_text_of_file(response.body(), path), path)
    finally:
        context.close()
    return {"pages": pages, "files": files, "targets": seen_targets, "external": external,
            "forbidden": forbidden, "hits": hits, "fragments": fragments,
            "solutions": solutions, "no_banner": no_banner, "actions": actions}


@pytest.fixture(scope="module")
def crawled(browser: Any, student_server: str, student_html: Path) -> dict[str, Any]:
    result = crawl(browser, student_server, student_html)
    print(f"\nstudent-edition crawl: {len(result['pages'])} pages, "
          f"{len(result['targets'])} distinct links and buttons "
          f"({len(result['files'])} same-site files fetched, {len(result['external'])} "
          f"off-site targets, {len(result['actions'])} script-only buttons), "
          f"{len(result['fragments'])} solution strings from {len(result['solutions'])} "
          f"solutions searched, {len(result['hits'])} hits, "
          f"{len(result['forbidden'])} links to the full sources")
    return result


def test_no_solution_text_is_reachable(crawled):
    assert len(crawled["fragments"]) > 100  # the search has something to find
    assert not crawled["hits"], f"solution text reachable: {crawled['hits'][:5]}"


def test_no_button_leads_to_the_full_sources(crawled):
    assert not crawled["forbidden"], crawled["forbidden"][:5]


def test_every_page_says_student_edition(crawled):
    assert len(crawled["pages"]) >= 10
    assert not crawled["no_banner"], crawled["no_banner"]


def test_the_crawl_reaches_the_downloads(crawled):
    # the download buttons stay: they serve this edition's own (solution-free) notebooks
    assert any(f.startswith("_sources/") and f.endswith(".ipynb") for f in crawled["files"])


def test_the_search_finds_solutions_in_the_full_sources(crawled):
    # the same search on a source notebook (with its solutions) does find them
    src = (ROOT / "book" / "03_linear_attention.ipynb").read_bytes()
    text = _text_of_file(src, "x.ipynb")
    assert sum(f" {f} " in text for f in crawled["fragments"]) > 10
