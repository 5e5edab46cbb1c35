"""Test-wide settings: no progress bars, a non-interactive matplotlib backend; ``--book-cache``.

The backend is chosen with ``matplotlib.use`` (this process only), never through the
``MPLBACKEND`` environment variable: the nbval kernels that run the chapters in the same
pytest session inherit the environment, and with ``MPLBACKEND=Agg`` their ``plt.show()``
displays nothing, so every figure cell would differ from its stored output.
"""

import os

import matplotlib

os.environ.setdefault("ICLBOOK_PROGRESS", "0")
matplotlib.use("Agg")


def pytest_addoption(parser):
    parser.addoption(
        "--book-cache", default=None, metavar="DIR",
        help="record every notebook nbval executes and passes into the book build's "
             "jupyter-cache DIR (tests/nbval_record.py); the test command passes "
             "_build/.jupyter_cache")


def pytest_configure(config):
    cache = config.getoption("--book-cache", default=None)
    if cache:
        from nbval_record import Recorder

        config.pluginmanager.register(Recorder(cache), "iclbook-book-cache")
