"""Record the chapters nbval executes into the book's cache, so that CI executes each once.

``pytest tests --nbval book ... --book-cache _build/.jupyter_cache`` (the test command,
``scripts/run_tests.sh``) registers :class:`Recorder` (``tests/conftest.py`` takes this
module's hooks; elsewhere ``-p nbval_record`` with ``tests/`` on the path).  For each
notebook nbval runs, it

1. starts nbval's kernel with the book build's widget mode (``ICLBOOK_WIDGETS=static``): the
   recorded outputs are the ones the build would make (precomputed widget frames);
2. tees every IOPub message nbval reads from that kernel into an nbclient
   :class:`~nbclient.NotebookClient` that has no kernel of its own, through its
   ``process_message``: outputs, ``clear_output``, display updates and the widget state
   (``metadata.widgets``, buffers base64-encoded) are built by the very code myst-nb's
   execution runs (jupyter-cache calls nbclient with ``record_timing=False``);
3. when every code cell of the notebook ran and passed nbval's strict comparison, stores the
   executed notebook in myst-nb's jupyter-cache (``cache_notebook_bundle``), after
   :func:`book_cache.ensure_fresh` has checked the cache's fingerprint (package, libraries,
   environment).

A notebook is not recorded, and the build executes it as before, when any of its cells failed,
was skipped or deselected, carries nbclient's ``skip-execution`` tag, or opens an ``Output``
widget (nbclient answers those through a live kernel client).  nbval itself is unchanged: it
still compares every output with the stored one.
"""

from __future__ import annotations

import copy
import os
import sys
import time
from pathlib import Path

import nbformat
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import book_cache  # noqa: E402

#: Set in the kernels nbval starts while recording: the book build's environment.
KERNEL_ENV = {"ICLBOOK_WIDGETS": "static"}


class _Recording:
    """One notebook being executed by nbval, rebuilt as nbclient would have executed it."""

    def __init__(self, nbfile: pytest.File) -> None:
        from nbclient import NotebookClient

        self.path = Path(str(nbfile.fspath)).resolve()
        self.nb = nbformat.read(self.path, as_version=4)
        self.code_cells = [i for i, c in enumerate(self.nb.cells) if c.cell_type == "code"]
        # jupyter-cache's single_nb_execution: nbclient with record_timing=False.
        self.client = NotebookClient(self.nb, record_timing=False)
        # No Output-widget mimicry (it needs a kernel client): such a notebook is refused.
        self.client.widget_registry = {}
        self.cell_of: dict[str, int] = {}  # execute request msg_id -> notebook cell index
        self.done: set[str] = set()
        self.current: int | None = None
        self.executed: list[int] = []
        self.problems: list[str] = []
        self.start = time.perf_counter()
        self.env: dict[str, str] = {}
        for i in self.code_cells:
            if "skip-execution" in self.nb.cells[i].metadata.get("tags", []):
                self.problems.append(f"cell {i} has the skip-execution tag")

    # -- the kernel tee -------------------------------------------------------------------
    def attach(self, kernel: object) -> None:
        self.language_info(kernel)
        execute = kernel.execute_cell_input
        get_message = kernel.get_message

        def execute_cell_input(cell_input: str, allow_stdin: bool | None = None) -> str:
            msg_id = execute(cell_input, allow_stdin=allow_stdin)
            self.started(msg_id)
            return msg_id

        def get_message_tee(stream: str, timeout: float | None = None) -> dict:
            msg = get_message(stream, timeout=timeout)
            if stream == "iopub":
                self.feed(msg)
            return msg

        kernel.execute_cell_input = execute_cell_input
        kernel.get_message = get_message_tee

    def language_info(self, kernel: object) -> None:
        """``metadata.language_info`` as nbclient sets it (from the kernel_info reply)."""
        kc = kernel.kc
        msg_id = kc.kernel_info()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            reply = kc.get_shell_msg(timeout=30)
            if reply["parent_header"].get("msg_id") == msg_id:
                self.nb.metadata["language_info"] = reply["content"]["language_info"]
                return
        self.problems.append("no kernel_info reply")

    def started(self, msg_id: str) -> None:
        if self.current is None:
            self.problems.append("a cell executed outside a test item")
            return
        cell = self.nb.cells[self.current]
        if not cell.source.strip():
            return  # nbclient skips an empty cell: it stays as stored, and is not counted
        cell.outputs = []
        self.client.clear_before_next_output = False
        self.cell_of[msg_id] = self.current
        self.executed.append(self.current)

    def feed(self, msg: dict) -> None:
        from nbclient.exceptions import CellExecutionComplete

        parent = msg["parent_header"].get("msg_id")
        if parent not in self.cell_of or parent in self.done:
            return  # nbclient reads only its current cell's messages, until idle
        index = self.cell_of[parent]
        if msg["msg_type"] == "comm_open":
            state = msg["content"].get("data", {}).get("state", {})
            if state.get("_model_module") == "@jupyter-widgets/output":
                self.problems.append(f"cell {index} opens an Output widget")
        try:
            self.client.process_message(msg, self.nb.cells[index], index)
        except CellExecutionComplete:
            self.done.add(parent)

    # -- the executed notebook ------------------------------------------------------------
    def executed_notebook(self) -> nbformat.NotebookNode:
        nb = copy.deepcopy(self.nb)
        for count, index in enumerate(self.executed, start=1):
            cell = nb.cells[index]
            cell.execution_count = count  # nbclient: code_cells_executed + 1
            for out in cell.outputs:
                if out.get("output_type") == "execute_result":
                    out["execution_count"] = count
        self.client.nb = nb
        self.client.set_widgets_metadata()
        self.client.nb = self.nb
        return nb

    def store(self, cache_dir: Path) -> str:
        from jupyter_cache import get_cache
        from jupyter_cache.base import CacheBundleIn

        book_cache.ensure_fresh(book_cache.fingerprint(self.env), cache_dir)
        seconds = time.perf_counter() - self.start
        get_cache(str(cache_dir)).cache_notebook_bundle(
            CacheBundleIn(self.executed_notebook(), str(self.path),
                          data={"execution_seconds": seconds, "recorded_by": "nbval"}),
            check_validity=False, overwrite=True)
        return f"{self.path.name} ({seconds:.1f} s)"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--book-cache", default=None, metavar="DIR",
        help="record every notebook nbval executes and passes into the book build's "
             "jupyter-cache DIR (tests/nbval_record.py); the test command passes "
             "_build/.jupyter_cache")


def pytest_configure(config: pytest.Config) -> None:
    cache = config.getoption("--book-cache", default=None)
    if cache:
        config.pluginmanager.register(Recorder(cache), "iclbook-book-cache")


class Recorder:
    """The pytest plugin: one :class:`_Recording` per notebook file nbval collects."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = Path(cache_dir).resolve()
        self.recordings: dict[str, _Recording] = {}
        self.items: dict[str, list[str]] = {}  # nbfile nodeid -> its cell items that ran
        self.failed: set[str] = set()
        self.stored: list[str] = []
        self.refused: list[str] = []

    @staticmethod
    def _nbfile(item: pytest.Item) -> pytest.File | None:
        from nbval.plugin import IPyNbCell

        return item.parent if isinstance(item, IPyNbCell) else None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item):
        nbfile = self._nbfile(item)
        if nbfile is None:
            yield
            return
        key = nbfile.nodeid
        if key not in self.recordings:  # the first cell: nbval starts the kernel now
            rec = _Recording(nbfile)
            saved = {k: os.environ.get(k) for k in KERNEL_ENV}
            os.environ.update(KERNEL_ENV)
            rec.env = dict(os.environ)
            try:
                yield
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v
            self.recordings[key] = rec
            if nbfile.kernel is None:
                rec.problems.append("no kernel")
            else:
                rec.attach(nbfile.kernel)
        else:
            yield
        rec = self.recordings[key]
        rec.current = rec.code_cells[item.cell_num]
        self.items.setdefault(key, []).append(item.nodeid)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed or (report.skipped and report.when == "call"):
            self.failed.add(report.nodeid)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None):
        yield
        nbfile = self._nbfile(item)
        if nbfile is None or (nextitem is not None and self._nbfile(nextitem) is nbfile):
            return
        rec = self.recordings.pop(nbfile.nodeid, None)
        if rec is None:
            return
        ran = self.items.get(nbfile.nodeid, [])
        problems = list(rec.problems)
        if len(ran) != len(rec.code_cells):
            problems.append(f"{len(ran)} of {len(rec.code_cells)} code cells ran")
        if any(nodeid in self.failed for nodeid in ran):
            problems.append("a cell failed or was skipped")
        if problems:
            self.refused.append(f"{rec.path.name}: {'; '.join(problems)}")
        else:
            self.stored.append(rec.store(self.cache_dir))

    def pytest_terminal_summary(self, terminalreporter) -> None:
        tr = terminalreporter
        if self.stored or self.refused:
            tr.section("book cache")
            tr.write_line(f"recorded into {self.cache_dir}: {', '.join(self.stored) or 'none'}")
            for line in self.refused:
                tr.write_line(f"not recorded (the build executes it): {line}")
