#!/usr/bin/env bash
# Build the book: set up .venv if needed, execute every chapter, build HTML, warnings = errors.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
# Widgets are rendered as precomputed frames linked in JavaScript: the web page has no kernel.
export ICLBOOK_WIDGETS=static
start=$(date +%s)
jupyter-book build . --warningiserror --keep-going --builder html "$@"
echo ">> built in $(( $(date +%s) - start )) s. Open: $ROOT/_build/html/index.html"
