#!/usr/bin/env bash
# Build the book: set up .venv if needed, execute every chapter, build HTML, warnings = errors.
# Chapters come from the execution cache _build/.jupyter_cache (myst-nb's jupyter-cache,
# `execute_notebooks: cache` in _config.yml): a chapter is executed unless the cache holds it
# executed from the same code cells, under the same package, libraries and environment
# (scripts/book_cache.py wipes the cache first when any of these changed). The test command
# fills the cache from its nbval run, so the build after it executes nothing.
# ICLBOOK_FRESH=1 empties the cache first: every chapter is executed.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
# Widgets are rendered as precomputed frames linked in JavaScript: the web page has no kernel.
export ICLBOOK_WIDGETS=static
start=$(date +%s)
if [ "${ICLBOOK_FRESH:-0}" = "1" ]; then
  python scripts/book_cache.py wipe
fi
python scripts/book_cache.py check
# Sphinx re-reads only changed sources: after a package change every page must be read again.
all=()
if ! python scripts/book_cache.py pages-current; then all=(--all); fi
jupyter-book build . --warningiserror --keep-going --builder html ${all[@]+"${all[@]}"} "$@"
python scripts/book_cache.py pages-stamp
python scripts/book_cache.py list
echo ">> built in $(( $(date +%s) - start )) s. Open: $ROOT/_build/html/index.html"
