"""The built book needs no CDN: static checks of the vendored assets and of every built page.

No browser needed. The vendored files must match their recorded checksums; no built HTML file
may name a CDN host; every script and stylesheet a page loads is a local file; pages with
maths load the vendored MathJax 3, pages with widgets the vendored widget manager; and no page
weighs more than 5 MB (``scripts/page_weight.py``, whose table is printed).
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from urllib.parse import unquote, urlsplit

import pytest
from booksite import HTML_DIR, REPO, built_pages, parse_page

VENDOR = REPO / "book" / "assets" / "vendor"
CDN_HOSTS = re.compile(
    r"cdn\.jsdelivr\.net|unpkg\.com|cdnjs\.cloudflare\.com|cdn\.mathjax\.org|"
    r"//[^\"'\s]*mathjax[^\"'\s]*\.(?:org|com|net)|polyfill\.io|ajax\.googleapis\.com|"
    r"fonts\.googleapis\.com|fonts\.gstatic\.com|code\.jquery\.com|bootstrapcdn\.com|"
    r"cdn\.plot\.ly|esm\.sh|cdn\.skypack\.dev|rawgit|githack\.com|require(?:\.min)?\.js",
    re.I,
)


def _load_page_weight() -> ModuleType:  # scripts/ is not a package
    if "page_weight" in sys.modules:
        return sys.modules["page_weight"]
    spec = importlib.util.spec_from_file_location("page_weight",
                                                  REPO / "scripts" / "page_weight.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["page_weight"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_vendored_assets_match_checksums() -> None:
    sums = VENDOR / "SHA256SUMS"
    listed = {}
    for line in sums.read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        listed[name] = digest
    present = {p.relative_to(VENDOR).as_posix() for d in ("mathjax", "html-manager")
               for p in (VENDOR / d).rglob("*") if p.is_file()}
    assert present == set(listed), (
        f"files in {VENDOR} differ from SHA256SUMS: extra {sorted(present - set(listed))}, "
        f"missing {sorted(set(listed) - present)} (refresh with scripts/vendor_assets.sh)"
    )
    bad = [n for n, d in listed.items()
           if hashlib.sha256((VENDOR / n).read_bytes()).hexdigest() != d]
    assert not bad, f"vendored files changed (refresh with scripts/vendor_assets.sh): {bad}"
    for licence in ("mathjax/LICENSE", "html-manager/LICENSE"):
        assert licence in listed, f"{licence} must be vendored with the code"


def test_no_cdn_in_built_html(site: Path) -> None:
    hits = []
    for path in sorted(site.rglob("*.html")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for m in CDN_HOSTS.finditer(line):
                hits.append(f"{path.relative_to(site)}:{n}: {m.group(0)}")
    assert not hits, "CDN references in the built HTML:\n  " + "\n  ".join(hits[:30])


def _local_file(page: str, ref: str) -> Path | None:
    """The build file that ``ref`` (as written in ``page``) names, or None if remote."""
    parts = urlsplit(ref)
    if parts.scheme or parts.netloc or ref.startswith("//"):
        return None
    return (HTML_DIR / page).parent.joinpath(unquote(parts.path)).resolve()


def test_scripts_and_styles_are_local(site: Path) -> None:
    bad = []
    for page in built_pages():
        parsed = parse_page(site / page)
        for ref in parsed.scripts + parsed.stylesheets:
            target = _local_file(page, ref)
            if target is None:
                bad.append(f"{page}: remote {ref}")
            elif not target.is_file():
                bad.append(f"{page}: missing {ref}")
    assert not bad, "scripts/stylesheets not served by the build:\n  " + "\n  ".join(bad)


def test_maths_and_widgets_use_vendored_files(site: Path) -> None:
    for rel in ("_static/mathjax/tex-mml-chtml.js", "_static/html-manager/embed.js",
                "_static/widgets-mathjax3.js",
                "_static/mathjax/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff",
                "_static/mathjax/input/tex/extensions/boldsymbol.js"):
        assert (site / rel).is_file(), f"{rel} is missing from the build"
    n_math = n_widgets = 0
    for page in built_pages():
        parsed = parse_page(site / page)
        names = [urlsplit(s).path for s in parsed.scripts]
        if parsed.math:
            n_math += 1
            assert any(s.endswith("_static/mathjax/tex-mml-chtml.js") for s in names), (
                f"{page} has maths but does not load the vendored MathJax: {names}"
            )
        if parsed.widget_state:
            n_widgets += 1
            js = [s for s in names if s.endswith(("embed.js", "embed-amd.js", "require.min.js",
                                                  "require.js", "widgets-mathjax3.js"))]
            assert [Path(s).name for s in js] == ["widgets-mathjax3.js", "embed.js"], (
                f"{page} has widgets: it must load the shim then the vendored non-AMD "
                f"embed.js (and no require.js), got {js}"
            )
    if n_math == 0:
        pytest.skip("no page with maths in this build")


def test_page_weight_under_limit(site: Path) -> None:
    pw = _load_page_weight()
    weights = pw.page_weights(site)
    table = pw.format_table(weights)
    print(table)
    over = [w.page for w in weights if w.total > pw.LIMIT_BYTES]
    assert not over, f"pages over {pw.LIMIT_BYTES / 1e6:g} MB: {over}\n{table}"


def test_page_weight_rejects_a_folder_without_a_book(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="site must be a built book folder"):
        _load_page_weight().page_weights(tmp_path)
