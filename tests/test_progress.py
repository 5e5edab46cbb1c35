"""Progress bars (:mod:`iclbook.core.progress`): one line while running, no empty output after.

In a notebook a ``tqdm`` bar on stderr with ``leave=False`` erases its text but leaves an
empty stderr output strip under the cell.  The notebook bar is an updatable display instead,
replaced by an empty bundle when it closes.  Checked here on a recorder and in a real
IPython kernel (the messages a front end receives), and that ``ICLBOOK_PROGRESS=0`` (set by
the build and the tests) still shows nothing.
"""

from __future__ import annotations

import queue
import sys

import pytest

from iclbook.core.progress import EMPTY_BUNDLE, NotebookBar, in_kernel, progress_bar


def test_not_in_a_kernel_under_pytest():
    assert not in_kernel()


def test_notebook_bar_shows_a_line_then_leaves_nothing(capsys):
    sent: list[tuple[dict, bool]] = []
    bar = NotebookBar(total=4, desc="training", mininterval=0,
                      publish=lambda bundle, first: sent.append((dict(bundle), first)))
    for _ in range(4):
        bar.update(1)
    shown = [b["text/plain"] for b, _ in sent if b]
    assert sent[0][1] and not any(first for _, first in sent[1:]), "one display, then updates"
    assert shown[0].startswith("training:") and "0/4" in shown[0]
    assert any("4/4" in line for line in shown)
    assert all("\n" not in line and "\r" not in line for line in shown)
    bar.close()
    assert sent[-1] == (EMPTY_BUNDLE, False), "the closed bar must leave an empty display"
    out = capsys.readouterr()
    assert out.err == "" and out.out == "", "the notebook bar writes nothing to the streams"


def test_terminal_bar_goes_to_stderr_and_is_erased(capsys):
    bar = progress_bar(3, "scoring", notebook=False)
    assert not isinstance(bar, NotebookBar)
    for _ in range(3):
        bar.update(1)
    bar.close()
    err = capsys.readouterr().err
    assert "scoring" in err and err.endswith("\r"), repr(err)


def test_in_kernel_picks_the_notebook_bar(monkeypatch):
    monkeypatch.setattr("iclbook.core.progress.in_kernel", lambda: True)
    bar = progress_bar(2, "x")
    try:
        assert isinstance(bar, NotebookBar)
    finally:
        bar.disable = True  # nothing was displayed outside a kernel; skip the clearing call


@pytest.mark.parametrize("total,desc,match", [(-1, "x", "total must be an integer"),
                                              (1.5, "x", "total must be an integer"),
                                              (3, None, "desc must be a string")])
def test_progress_bar_rejects_bad_input(total, desc, match):
    with pytest.raises(ValueError, match=match):
        progress_bar(total, desc)


def _kernel_messages(code: str, env: dict[str, str]) -> list[dict]:
    jupyter_client = pytest.importorskip("jupyter_client")
    km = jupyter_client.KernelManager(kernel_name="python3")
    km.start_kernel(env=env)
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        msg_id = kc.execute(code)
        msgs = []
        while True:
            try:
                msg = kc.get_iopub_msg(timeout=120)
            except queue.Empty:
                pytest.fail("the kernel did not finish the cell")
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            msgs.append(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return msgs
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


TRAIN = """
import torch
from iclbook.core.engine import train_family
class Scale(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))
    def forward(self, x):
        return self.w * x
def batch(g):
    x = torch.randn(8, generator=g)
    return x, 2 * x
h = train_family(Scale(), batch, steps=300, lr=1e-2, desc="demo")
print("steps", h.stopped_at)
"""


@pytest.mark.slow
@pytest.mark.parametrize("progress", ["1", "0"])
def test_training_in_a_kernel_leaves_no_empty_output(progress, monkeypatch):
    """A training loop in a real kernel, as a notebook cell: what the front end receives."""
    import os

    env = dict(os.environ, ICLBOOK_PROGRESS=progress, PYTHONPATH=os.pathsep.join(sys.path))
    env.pop("MPLBACKEND", None)
    msgs = _kernel_messages(TRAIN, env)
    types = [m["msg_type"] for m in msgs]
    assert "error" not in types, [m["content"] for m in msgs if m["msg_type"] == "error"]
    streams = [m["content"] for m in msgs if m["msg_type"] == "stream"]
    assert streams == [{"name": "stdout", "text": "steps 300\n"}], streams
    displays = [m for m in msgs if m["msg_type"] in ("display_data", "update_display_data")]
    if progress == "0":
        assert displays == [], "ICLBOOK_PROGRESS=0 must show no bar"
        return
    assert displays[0]["msg_type"] == "display_data"
    assert displays[0]["content"]["data"]["text/plain"].startswith("demo:")
    ids = {m["content"]["transient"]["display_id"] for m in displays}
    assert len(ids) == 1, "one display, updated in place"
    assert displays[-1]["msg_type"] == "update_display_data"
    assert displays[-1]["content"]["data"] == {}, "the bar must leave an empty display"
