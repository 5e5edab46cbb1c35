"""Sphinx extension of the iclbook build: every page renders offline, maths included.

1. No page refers to a CDN. Jupyter Book always loads ``sphinx_thebe``, which writes the
   address of thebe on unpkg.com into every page. Thebe runs only behind a "live code" launch
   button, which this book does not enable (``launch_buttons.thebe`` is unset), so this
   extension switches sphinx-thebe's page hooks off. MathJax and the Jupyter-widgets manager
   are served from ``book/assets/vendor`` (``mathjax_path`` and ``nb_ipywidgets_js`` in
   ``_config.yml``).
2. MathJax is loaded on every page. Sphinx loads it only on pages with equations of their
   own, but chapter titles with maths (e.g. "rank-$r$") appear in the navigation of every
   page, where they would otherwise stay raw TeX. The vendored file is cached by the browser.

Loaded through ``sphinx.local_extensions`` in ``_config.yml``; ``tests/browser`` checks the
result.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.util import logging

logger = logging.getLogger(__name__)

_THEBE_EVENTS = ("env-before-read-docs", "doctree-resolved")


def _drop_thebe(app: Sphinx, config: Config) -> None:
    """Disconnect sphinx-thebe's hooks that add the unpkg.com script and its page config."""
    launch = (config.html_theme_options or {}).get("launch_buttons", {}) or {}
    if launch.get("thebe"):
        logger.warning(
            "launch_buttons.thebe loads thebe from unpkg.com; the book must work offline "
            "(remove it, or remove scripts/sphinx_offline.py from sphinx.local_extensions)"
        )
        return
    for event in _THEBE_EVENTS:
        for listener in list(app.events.listeners.get(event, [])):
            if getattr(listener.handler, "__module__", "").startswith("sphinx_thebe"):
                app.disconnect(listener.id)


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the hook (runs once every extension, sphinx-thebe included, is set up) and
    load the page assets (MathJax) on every page."""
    app.connect("config-inited", _drop_thebe)
    app.set_html_assets_policy("always")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
