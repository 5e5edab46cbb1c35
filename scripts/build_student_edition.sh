#!/usr/bin/env bash
# Build the student edition: the book from the same sources, with every solution removed
# (not hidden): no {solution} blocks, no gated solution cells, no exercise-solution code and
# no outputs of the self-check cells; a banner on every page says it is the student edition;
# the launch (Binder, Colab, JupyterHub), repository, issues and edit buttons are off (they
# lead to the full sources), the download buttons serve this edition's own notebooks.
# Warnings are errors. Output: _build/student/html (iclbook.course.assignments.student_sources).
#
# Usage: bash scripts/build_student_edition.sh [--stored-outputs] [--out DIR]
#   --stored-outputs  do not execute the chapters; render their stored outputs (fast; the
#                     stored outputs are the ones nbval checks). Default: execute every
#                     chapter afresh, like scripts/build_book.sh.
#   --out DIR         write DIR/html (default: _build/student).
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
export ICLBOOK_WIDGETS=static
execute=force
out="$ROOT/_build/student"
while [ $# -gt 0 ]; do
  case "$1" in
    --stored-outputs) execute=off ;;
    --out) out="$(mkdir -p "$2" && cd "$2" && pwd)"; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
src="$out/src"
start=$(date +%s)
python -m iclbook.course --student-sources "$src"
sed -i -E "s/^(\s*execute_notebooks:).*/\1 \"$execute\"/" "$src/_config.yml"
jupyter-book build "$src" --warningiserror --keep-going --builder html
rm -rf "$out/html"
mv "$src/_build/html" "$out/html"
echo ">> student edition built in $(( $(date +%s) - start )) s. Open: $out/html/index.html"
