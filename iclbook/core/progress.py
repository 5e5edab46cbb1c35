"""Progress bars that leave no trace: one line while a loop runs, nothing after it.

Training loops (:func:`iclbook.core.engine.train_family`,
:func:`iclbook.core.parallel.run_jobs`) and
the language-model scorer show a ``tqdm`` bar while they run.  Where the bar goes depends on
who is watching:

* **In a Jupyter kernel** (JupyterLab, Notebook 7, Binder, Colab) the bar is one *updatable
  display* (``display(..., display_id=True)``): the kernel sends the bar's line as
  ``text/plain`` and replaces it in place as the loop advances.  When the loop ends, the
  display is replaced by an **empty** mime bundle, which the front end renders as nothing at
  all.  A plain ``tqdm`` bar on ``stderr`` with ``leave=False`` would instead erase its own
  text and leave an empty (pink) stderr output strip under the cell.
* **In a terminal** (scripts, ``python -m iclbook.llm``) it is the ordinary ``tqdm`` bar on
  ``stderr``, erased when the loop ends (``leave=False``).

Bars are off when ``ICLBOOK_PROGRESS=0`` (:func:`iclbook.core.reproducibility.progress_enabled`):
the book build and the tests set it, so stored outputs and what nbval compares never hold a
bar.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

from .validation import check_int_range

__all__ = ["progress_bar", "in_kernel", "NotebookBar", "EMPTY_BUNDLE"]

#: What the notebook bar leaves behind: a display with no data, rendered as nothing.
EMPTY_BUNDLE: dict[str, str] = {}


def in_kernel() -> bool:
    """True when this code runs in a Jupyter kernel (IPython with a kernel attached)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # pragma: no cover - a broken IPython install
        return False
    return getattr(shell, "kernel", None) is not None


class _NullFile:
    """Where tqdm's own writes (a carriage return on close) go: nowhere."""

    def write(self, _text: str) -> int:
        return 0

    def flush(self) -> None:
        pass


class NotebookBar(tqdm):
    """A ``tqdm`` bar drawn as one updatable ``text/plain`` display in a notebook.

    ``display`` (called by tqdm on every refresh, at most every ``mininterval`` seconds)
    sends the bar's line; ``close`` replaces it with :data:`EMPTY_BUNDLE`, so no output strip
    remains.  ``publish(bundle, first)`` sends a bundle; it defaults to IPython's display
    machinery and is a parameter only so that tests can record what would be sent.
    """

    def __init__(self, *args: Any, publish: Any = None, **kwargs: Any) -> None:
        self._handle: Any = None
        self._shown = False
        self._publish = publish if publish is not None else self._ipython_publish
        kwargs["file"] = _NullFile()
        kwargs["leave"] = False
        kwargs.setdefault("dynamic_ncols", False)
        kwargs.setdefault("ncols", 100)
        super().__init__(*args, **kwargs)

    def _ipython_publish(self, bundle: dict[str, str], first: bool) -> None:
        from IPython.display import display

        if first:
            self._handle = display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)

    def display(self, msg: str | None = None, pos: int | None = None) -> bool:
        """Show ``msg`` (default: the bar's current line); an empty ``msg`` clears it."""
        text = self.__str__() if msg is None else msg
        if not text:
            if self._shown:
                self._publish(EMPTY_BUNDLE, False)
            return True
        self._publish({"text/plain": text}, not self._shown)
        self._shown = True
        return True

    def close(self) -> None:
        """Stop the bar and remove its line from the cell's output."""
        if self.disable:
            return
        super().close()  # with leave=False tqdm calls display(msg="") here
        if self._shown:  # in case a tqdm version skips that call
            self._publish(EMPTY_BUNDLE, False)
            self._shown = False


def progress_bar(total: int, desc: str, *, notebook: bool | None = None) -> tqdm:
    """A bar over ``total`` steps labelled ``desc``, refreshed at most twice a second.

    ``notebook=None`` picks the :class:`NotebookBar` inside a Jupyter kernel
    (:func:`in_kernel`) and a ``tqdm`` bar on ``stderr`` (erased when closed) elsewhere.
    Callers decide whether to show a bar at all with
    :func:`iclbook.core.reproducibility.progress_enabled`.
    """
    total = check_int_range("total", total, 0, 2**62)
    if not isinstance(desc, str):
        raise ValueError(f"desc must be a string, got {desc!r}")
    if notebook is None:
        notebook = in_kernel()
    if notebook:
        return NotebookBar(total=total, desc=desc, mininterval=0.5)
    return tqdm(total=total, desc=desc, mininterval=0.5, leave=False, file=sys.stderr)
