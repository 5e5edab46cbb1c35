"""JupyterHub launch links (nbgitpuller): the helper, the book's theme and the instructors' page
agree on one link format.

``iclbook.course.nbgitpuller_link`` writes the link; a tiny Jupyter Book (one notebook, the
book's ``repository`` and ``launch_buttons`` settings plus a ``jupyterhub_url``) is built and
its JupyterHub button must carry the same link; the example on *For instructors* must be
what the helper gives.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import nbformat
import pytest
import yaml

from iclbook.course import nbgitpuller_link

ROOT = Path(__file__).resolve().parents[1]
HUB = "https://hub.example.edu"
REPO = "https://github.com/iclbook/iclbook"


def test_link_format_written_out():
    # the format of nbgitpuller's link generator, written out by hand
    assert nbgitpuller_link(HUB + "/", REPO, "book/03_linear_attention.ipynb") == (
        "https://hub.example.edu/hub/user-redirect/git-pull?repo=https%3A//github.com/iclbook/"
        "iclbook&urlpath=lab/tree/iclbook/book/03_linear_attention.ipynb&branch=main")
    link = nbgitpuller_link(HUB, REPO + ".git", "/book/x y.ipynb", branch="fall-2026",
                            interface="classic")
    query = parse_qs(urlsplit(link).query)
    assert query == {"repo": [REPO + ".git"], "urlpath": ["tree/iclbook/book/x y.ipynb"],
                     "branch": ["fall-2026"]}


@pytest.mark.parametrize("kwargs, word", [
    ({"hub_url": "hub.example.edu"}, "hub_url"),
    ({"repo_url": "git@github.com:iclbook/iclbook"}, "repo_url"),
    ({"interface": "vscode"}, "interface"),
    ({"path": ""}, "path"),
    ({"branch": ""}, "branch"),
])
def test_bad_arguments(kwargs, word):
    args = {"hub_url": HUB, "repo_url": REPO, "path": "book/a.ipynb", **kwargs}
    with pytest.raises(ValueError, match=word):
        nbgitpuller_link(**args)


def _book_config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))


def test_the_book_config_has_the_option():
    launch = _book_config()["launch_buttons"]
    assert "jupyterhub_url" in launch  # documented, off by default ("")
    assert not launch["jupyterhub_url"]


@pytest.fixture(scope="module")
def tiny_book(tmp_path_factory) -> Path:
    """A one-notebook Jupyter Book with the book's repository and a JupyterHub URL."""
    src = tmp_path_factory.mktemp("hubbook")
    config = _book_config()
    (src / "book").mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# A chapter")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, src / "book" / "03_linear_attention.ipynb")
    tiny = {"title": "tiny", "only_build_toc_files": True,
            "execute": {"execute_notebooks": "off"},
            "repository": config["repository"],
            "launch_buttons": {**config["launch_buttons"], "jupyterhub_url": HUB},
            "html": {"use_repository_button": True}}
    (src / "_config.yml").write_text(yaml.safe_dump(tiny), encoding="utf-8")
    (src / "_toc.yml").write_text("format: jb-book\nroot: book/03_linear_attention\n",
                                  encoding="utf-8")
    jb = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or "jupyter-book"
    subprocess.run([jb, "build", str(src), "--builder", "html"], check=True,
                   capture_output=True, timeout=600)
    return src / "_build" / "html" / "book" / "03_linear_attention.html"


@pytest.mark.slow
def test_the_theme_builds_the_same_link(tiny_book):
    raw = tiny_book.read_text(encoding="utf-8")
    links = [html.unescape(h) for h in re.findall(r'href="([^"]*git-pull[^"]*)"', raw)]
    config = _book_config()
    assert config["launch_buttons"]["notebook_interface"] == "jupyterlab"
    want = nbgitpuller_link(HUB, config["repository"]["url"], "book/03_linear_attention.ipynb",
                            branch=config["repository"]["branch"])
    assert links == [want]


def test_instructors_page_example():
    page = (ROOT / "book" / "for_instructors.md").read_text(encoding="utf-8")
    shown = re.findall(r"https://hub\.example\.edu/hub/user-redirect/git-pull\?\S+?(?=[`)\s])",
                       page)
    assert shown, "For instructors shows no example link"
    for link in shown:
        q = parse_qs(urlsplit(link).query)
        path = q["urlpath"][0].split("/", 3)[3]
        assert link == nbgitpuller_link(HUB, q["repo"][0], path, branch=q["branch"][0])
