"""Every image of the built book has a non-empty alt text (issue: figures readable by all).

The check reads the built HTML (no browser needed): an ``<img>`` whose ``alt`` is missing,
empty or only blanks fails, with the page and the image's ``src``. The same check runs on a
small fixture first, so that it is known to fail on the faults it looks for.
"""

from __future__ import annotations

from html.parser import HTMLParser

from booksite import HTML_DIR


class _ImgAlt(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.missing: list[str] = []
        self.count = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "img":
            return
        self.count += 1
        a = dict(attrs)
        if not (a.get("alt") or "").strip():
            self.missing.append(a.get("src") or "<no src>")


def images_without_alt(html: str) -> tuple[int, list[str]]:
    """``(number of <img>, srcs of those without a non-empty alt text)`` of an HTML page."""
    parser = _ImgAlt()
    parser.feed(html)
    parser.close()
    return parser.count, parser.missing


FIXTURE = """<html><body>
<img src="a.png" alt="A falling curve">
<img src="b.png">
<img src="c.png" alt="">
<img src="d.png" alt="   ">
<figure><img alt="Two heat maps" src="e.png"/></figure>
<IMG SRC="f.png" ALT="upper case">
</body></html>"""


def test_alt_check_on_a_fixture() -> None:
    count, missing = images_without_alt(FIXTURE)
    assert count == 6
    assert missing == ["b.png", "c.png", "d.png"]
    assert images_without_alt('<p>no images</p>') == (0, [])


def test_every_image_has_alt_text(page: str) -> None:
    html = (HTML_DIR / page).read_text(encoding="utf-8")
    count, missing = images_without_alt(html)
    assert not missing, (
        f"{page}: {len(missing)} of {count} images have no alt text (set "
        '"mystnb": {"image": {"alt": ...}} on the cell that draws them):\n  '
        + "\n  ".join(missing)
    )
