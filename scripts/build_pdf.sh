#!/usr/bin/env bash
# Build the PDF edition of the book: _build/pdf/iclbook.pdf. Sphinx's LaTeX builder, run by
# `jupyter-book build --builder pdflatex` (engine and file name in _config.yml: latex:), on a
# copy of the sources in which every widget output also carries its default frame as a PNG
# (scripts/pdf_sources.py; LaTeX cannot show a widget, and would print its text repr).
# Installs Debian's TeX Live when it is missing (like .ci/run installs Chromium), then checks
# the PDF with scripts/check_pdf.py: no unresolved reference ("??"), every chapter title and a
# sample of the computed numbers of every chapter present (pdftotext). Exit code non-zero on
# any failure.
#
# Usage: bash scripts/build_pdf.sh [--execute]
#   default    render the chapters' stored outputs: the outputs the test command compares
#              (nbval, strict) with a fresh execution, so the PDF shows the numbers of the web
#              book without executing every chapter a second time (the publish workflow has
#              just executed them for the HTML edition).
#   --execute  execute every chapter of the copy afresh first (scripts/execute_notebooks.py).
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
execute=0
while [ $# -gt 0 ]; do
  case "$1" in
    --execute) execute=1 ;;
    *) echo "unknown argument: $1 (usage: build_pdf.sh [--execute])" >&2; exit 2 ;;
  esac
  shift
done
# Debian/Ubuntu TeX Live: XeLaTeX (the book's text has Unicode: Greek letters, ≥, ...) with
# the FreeFont fonts Sphinx uses for it, latexmk, and poppler-utils (pdftotext) for the check.
if ! command -v xelatex >/dev/null 2>&1 || ! command -v latexmk >/dev/null 2>&1 \
   || ! command -v pdftotext >/dev/null 2>&1 || ! fc-list | grep -qi FreeSerif; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended texlive-xetex \
    latexmk lmodern fonts-freefont-otf tex-gyre poppler-utils fontconfig
fi
start=$(date +%s)
src="$ROOT/_build/pdf/src"
out="$ROOT/_build/pdf"
python scripts/pdf_sources.py "$src"
if [ "$execute" = 1 ]; then
  # Live widgets (ICLBOOK_WIDGETS unset): each widget draws its default frame into one Image.
  (unset ICLBOOK_WIDGETS; python scripts/execute_notebooks.py "$src"/book/*.ipynb)
  python scripts/pdf_sources.py --frames-only "$src"
fi
# The copy's notebooks hold the outputs to print: the build executes nothing.
sed -i -E 's/^(\s*execute_notebooks:).*/\1 "off"/' "$src/_config.yml"
rm -f "$out/iclbook.pdf" "$out/iclbook.log"
jupyter-book build "$src" --builder pdflatex --warningiserror --keep-going
cp "$src/_build/latex/iclbook.pdf" "$src/_build/latex/iclbook.log" "$out/"
echo ">> PDF built in $(( $(date +%s) - start )) s: $out/iclbook.pdf"
python scripts/check_pdf.py "$out/iclbook.pdf"
