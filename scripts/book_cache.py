"""The book's execution cache, and the fingerprint that keeps it from ever serving a stale page.

The book build (``scripts/build_book.sh``) runs myst-nb with ``execute_notebooks: cache``:
a chapter whose executed copy is in the jupyter-cache at ``_build/.jupyter_cache`` (myst-nb's
default place, beside ``_build/html``) is rendered from it; any other chapter is executed and
added to it.  The test command fills the cache from its nbval run
(``tests/nbval_record.py``), so that CI executes each chapter once.

jupyter-cache matches a notebook by a hash of its code cells (and its kernelspec): a changed
cell re-executes that chapter.  It knows nothing of the package the chapters import, of the
installed libraries or of the environment, so this module adds a *fingerprint* of all of
them, stored in the cache folder.  Whoever reads or writes the cache first calls
:func:`ensure_fresh`, which wipes the whole cache when the fingerprint differs:

- every file under ``iclbook/`` (path and content; ``__pycache__`` is skipped): any change to
  the package re-executes every chapter (every chapter imports it);
- ``requirements-lock.txt`` and every distribution installed in the environment's
  site-packages, with its version;
- the Python version;
- the environment variables that change what a chapter prints (:data:`ENV_KEYS`), as the
  kernel sees them (the build's ``ICLBOOK_WIDGETS=static`` included).

Usage (``python scripts/book_cache.py --help``)::

    python scripts/book_cache.py check    # wipe the cache if stale; say what it holds
    python scripts/book_cache.py list     # the cached chapters (path, execution seconds, by)
    python scripts/book_cache.py wipe     # empty it (the next build executes everything)
    python scripts/book_cache.py pages-current  # exit 1 unless Sphinx's pages have this one
    python scripts/book_cache.py pages-stamp    # record the fingerprint the pages were read with

Sphinx re-reads only the pages whose source changed: after a change to the package (or the
libraries, or the environment), an incremental build would keep every page's old outputs.
``scripts/build_book.sh`` therefore stamps Sphinx's saved environment (``_build/.doctrees``)
with the fingerprint its pages were read under, and passes ``--all`` (every page read again,
from the cache or executed) whenever the stamp differs from the current fingerprint.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.metadata
import json
import os
import shutil
import sys
import sysconfig
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Where myst-nb keeps the executed chapters: its default, ``<outdir>/../.jupyter_cache``.
CACHE_DIR = ROOT / "_build" / ".jupyter_cache"
#: The fingerprint's file inside the cache folder and inside Sphinx's environment folder.
FINGERPRINT_FILE = "iclbook-fingerprint.json"
#: Sphinx's saved environment (doctrees): what an incremental build does not read again.
DOCTREES_DIR = ROOT / "_build" / ".doctrees"
#: Environment variables that can change a chapter's outputs.
ENV_KEYS = ("ICLBOOK_WIDGETS", "ICLBOOK_PROGRESS", "ICLBOOK_THREADS", "ICLBOOK_WORKERS",
            "PYTHONHASHSEED", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "MPLBACKEND")


def _hash_tree(folder: Path) -> str:
    """SHA-256 over the relative path and the bytes of every file under ``folder``."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder)
        if "__pycache__" in rel.parts or path.suffix in (".pyc", ".pyo"):
            continue
        h.update(rel.as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def _site_packages() -> list[str]:
    """The environment's own library folders (never the caller's ``sys.path``)."""
    paths = sysconfig.get_paths()
    return sorted({paths["purelib"], paths["platlib"]})


def _installed() -> str:
    """SHA-256 of the sorted ``name==version`` list of the distributions installed in the
    environment's site-packages.

    Only those folders are scanned: ``sys.path`` differs between a pytest run (its rootdir,
    folders tests put there) and the build, and must not change the fingerprint.
    """
    importlib.invalidate_caches()  # a long-lived process (pytest) may hold a stale listing
    names = sorted({f"{d.metadata['Name']}=={d.version}".lower()
                    for d in importlib.metadata.distributions(path=_site_packages())
                    if d.metadata["Name"]})
    return hashlib.sha256("\n".join(names).encode()).hexdigest()


def fingerprint(env: Mapping[str, str] | None = None, root: Path = ROOT) -> dict[str, object]:
    """What a cached chapter depends on besides its own code cells.

    ``env``: the environment the kernel runs in (default ``os.environ``); ``root``: the
    repository (its ``iclbook/`` and ``requirements-lock.txt`` are hashed).
    """
    env = os.environ if env is None else env
    root = Path(root)
    package = root / "iclbook"
    if not package.is_dir():
        raise ValueError(f"root must be a checkout with an iclbook/ folder, got {root}")
    lock = root / "requirements-lock.txt"
    return {
        "package": _hash_tree(package),
        "lock": hashlib.sha256(lock.read_bytes()).hexdigest() if lock.is_file() else None,
        "installed": _installed(),
        "python": sys.version,
        "env": {k: env.get(k) for k in ENV_KEYS},
    }


def stored_fingerprint(cache_dir: Path = CACHE_DIR) -> dict[str, object] | None:
    """The fingerprint the cache was filled under, or ``None`` (no cache, or no file)."""
    path = Path(cache_dir) / FINGERPRINT_FILE
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def ensure_fresh(fp: Mapping[str, object], cache_dir: Path = CACHE_DIR) -> list[str]:
    """Wipe ``cache_dir`` unless it was filled under fingerprint ``fp``; then record ``fp``.

    Returns the fingerprint's keys that differed (``[]``: the cache is kept).  A cache folder
    without a fingerprint file counts as stale (``["missing"]``).
    """
    cache_dir = Path(cache_dir)
    old = stored_fingerprint(cache_dir)
    fp = json.loads(json.dumps(dict(fp)))  # as it reads back from the file
    if old == fp:
        return []
    changed = ["missing"] if old is None else sorted(
        k for k in set(old) | set(fp) if old.get(k) != fp.get(k))
    if cache_dir.exists():
        shutil.rmtree(cache_dir)
    cache_dir.mkdir(parents=True)
    (cache_dir / FINGERPRINT_FILE).write_text(json.dumps(fp, indent=1, sort_keys=True) + "\n")
    return changed


def records(cache_dir: Path = CACHE_DIR) -> list[dict[str, object]]:
    """The cached notebooks: ``uri``, ``execution_seconds``, ``recorded_by`` (nbval or myst-nb)."""
    from jupyter_cache import get_cache

    if not Path(cache_dir).is_dir():
        return []
    out = []
    for r in get_cache(str(cache_dir)).list_cache_records():
        data = r.data or {}
        out.append({"uri": r.uri, "execution_seconds": data.get("execution_seconds"),
                    "recorded_by": data.get("recorded_by", "myst-nb")})
    return sorted(out, key=lambda r: str(r["uri"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["check", "list", "wipe", "pages-current",
                                           "pages-stamp"])
    parser.add_argument("--cache", type=Path, default=CACHE_DIR, help="the cache folder")
    parser.add_argument("--doctrees", type=Path, default=DOCTREES_DIR,
                        help="Sphinx's environment folder")
    args = parser.parse_args(argv)
    if args.action == "pages-stamp":
        if args.doctrees.is_dir():
            fp = json.loads(json.dumps(fingerprint()))
            (args.doctrees / FINGERPRINT_FILE).write_text(json.dumps(fp, indent=1, sort_keys=True))
        return 0
    if args.action == "pages-current":
        built = stored_fingerprint(args.doctrees)
        current = json.loads(json.dumps(fingerprint()))
        if built == current:
            return 0
        why = "no stamp" if built is None else ", ".join(
            sorted(k for k in set(built) | set(current) if built.get(k) != current.get(k)))
        print(f">> every page is read again: the pages were read under another fingerprint "
              f"({why})")
        return 1
    if args.action == "wipe":
        shutil.rmtree(args.cache, ignore_errors=True)
        print(f">> book cache wiped: {args.cache}")
        return 0
    if args.action == "check":
        changed = ensure_fresh(fingerprint(), args.cache)
        if changed:
            print(f">> book cache emptied ({', '.join(changed)} changed): every chapter "
                  f"executes")
    recs = records(args.cache)
    print(f">> book cache: {len(recs)} executed notebook(s) in {args.cache}")
    if args.action == "list":
        for r in recs:
            secs = r["execution_seconds"]
            secs = f"{secs:7.1f} s" if isinstance(secs, int | float) else "      ? s"
            print(f"   {secs}  {r['recorded_by']:8s}  {r['uri']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
