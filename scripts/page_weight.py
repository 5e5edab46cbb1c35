"""Page weight of the built book: what a reader downloads for each page, frames included.

For every HTML page of the build: the HTML file (which embeds the widget state, and with it
the widgets' precomputed PNG frames, base64-encoded), the part of it that is widget state, and
the local images the page's ``<img>`` tags reference (figures under ``_images``, the theme's
launch-button logos). Shared scripts, styles and fonts (the theme, MathJax, the widget
manager) are cached across pages and not counted. Prints a table; exits 1 when a page is
over the limit (default 5 MB = 5,000,000 bytes).

    .venv/bin/python scripts/page_weight.py [_build/html] [--limit-mb 5]
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

LIMIT_BYTES = 5_000_000
_STATE = re.compile(
    r'<script type="application/vnd\.jupyter\.widget-state\+json">(.*?)</script>', re.S
)
_IMG = re.compile(r"<img\b[^>]*?\bsrc=\"([^\"]+)\"", re.I)
_SKIP_DIRS = {"_static", "_sources", "_images", "_downloads"}


@dataclass(frozen=True)
class PageWeight:
    """Bytes of one built page: ``html`` (with ``widget_state`` inside it) and ``images``."""

    page: str
    html: int
    widget_state: int
    images: int
    n_images: int

    @property
    def total(self) -> int:
        return self.html + self.images


def page_weights(site: Path) -> list[PageWeight]:
    """The weight of every HTML page under the build folder ``site``, sorted by path.

    Raises ``ValueError`` naming ``site`` when it holds no ``index.html``.
    """
    site = Path(site)
    if not (site / "index.html").is_file():
        raise ValueError(f"site must be a built book folder with an index.html, got {site}")
    out = []
    for path in sorted(site.rglob("*.html")):
        rel = path.relative_to(site)
        if _SKIP_DIRS.intersection(rel.parts[:-1]):
            continue
        text = path.read_text(encoding="utf-8")
        state = sum(len(m.group(1).encode()) for m in _STATE.finditer(text))
        files = set()
        for src in _IMG.findall(text):
            parts = urlsplit(src)
            if parts.scheme or parts.netloc or not parts.path:
                continue  # data: URIs are inside the HTML already; remote images: none
            target = (path.parent / unquote(parts.path)).resolve()
            if target.is_file():
                files.add(target)
        out.append(PageWeight(rel.as_posix(), path.stat().st_size, state,
                              sum(f.stat().st_size for f in files), len(files)))
    return out


def format_table(weights: list[PageWeight], limit: int = LIMIT_BYTES) -> str:
    """A plain-text table of ``weights`` in MB, pages over ``limit`` marked."""
    rows = [("page", "HTML MB", "widget state MB", "images MB", "# images", "total MB", "")]
    for w in weights:
        rows.append((w.page, f"{w.html / 1e6:.3f}", f"{w.widget_state / 1e6:.3f}",
                     f"{w.images / 1e6:.3f}", str(w.n_images), f"{w.total / 1e6:.3f}",
                     "OVER LIMIT" if w.total > limit else ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                       for i, c in enumerate(r)).rstrip() for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", nargs="?", default=Path(__file__).parents[1] / "_build/html",
                        type=Path, help="the built book (default: _build/html)")
    parser.add_argument("--limit-mb", type=float, default=LIMIT_BYTES / 1e6,
                        help="largest allowed page, in MB of 10^6 bytes (default 5)")
    args = parser.parse_args(argv)
    if not args.limit_mb > 0:
        parser.error(f"--limit-mb must be > 0, got {args.limit_mb}")
    limit = int(args.limit_mb * 1e6)
    weights = page_weights(args.site)
    print(format_table(weights, limit))
    over = [w.page for w in weights if w.total > limit]
    if over:
        print(f"FAIL: {len(over)} page(s) over {args.limit_mb:g} MB: {', '.join(over)}")
        return 1
    print(f"OK: every page is under {args.limit_mb:g} MB "
          f"(largest {max(w.total for w in weights) / 1e6:.3f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
