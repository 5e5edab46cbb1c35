"""Links that open one of the book's notebooks on a JupyterHub through nbgitpuller.

A class that runs on a JupyterHub with nbgitpuller installed can launch chapters there: the
link makes the hub clone (or update) the repository into the student's home and open the
notebook. The book's launch button does the same when ``launch_buttons.jupyterhub_url`` is
set in ``_config.yml`` (sphinx-book-theme builds the link); this function writes the same
link, e.g. for a course page or an e-mail (``book/for_instructors.md``).
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

#: The URL prefix of each notebook interface (sphinx-book-theme's ``notebook_interface``).
INTERFACES = {"jupyterlab": "lab/tree", "classic": "tree"}


def nbgitpuller_link(hub_url: str, repo_url: str, path: str, branch: str = "main",
                     interface: str = "jupyterlab") -> str:
    """``{hub}/hub/user-redirect/git-pull?repo=...&urlpath=...&branch=...``.

    ``hub_url``: the hub's address (``https://hub.example.edu``); ``repo_url``: the git
    repository (``https://github.com/owner/name``); ``path``: the notebook inside it
    (``book/03_linear_attention.ipynb``); ``branch``: the branch to pull; ``interface``:
    ``"jupyterlab"`` or ``"classic"``.  nbgitpuller clones into a folder named after the
    repository, so the notebook opens at ``<interface prefix>/<name>/<path>``.
    """
    for name, url in (("hub_url", hub_url), ("repo_url", repo_url)):
        parts = urlsplit(url or "")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{name} must be an http(s) URL such as https://host/..., "
                             f"got {url!r}")
    if interface not in INTERFACES:
        raise ValueError(f"interface must be one of {sorted(INTERFACES)}, got {interface!r}")
    path = (path or "").strip("/")
    if not path:
        raise ValueError("path must name a file of the repository, got an empty path")
    if not branch:
        raise ValueError("branch must be a non-empty branch name")
    repo_name = urlsplit(repo_url).path.rstrip("/").split("/")[-1].removesuffix(".git")
    query = urlencode({"repo": repo_url, "urlpath": f"{INTERFACES[interface]}/{repo_name}/{path}",
                       "branch": branch}, safe="/")
    return f"{hub_url.rstrip('/')}/hub/user-redirect/git-pull?{query}"
