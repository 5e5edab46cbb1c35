#!/usr/bin/env bash
# Build the PDF edition of the book: _build/latex/iclbook.pdf (Sphinx's LaTeX builder, run by
# `jupyter-book build . --builder pdflatex`, engine and document names in _config.yml: latex).
# Installs Debian's TeX Live when it is missing (like .ci/run installs Chromium), then checks
# the PDF with scripts/check_pdf.py: no unresolved reference ("??"), every chapter title and a
# sample of the computed numbers of every chapter present (pdftotext). Exit code non-zero on
# any failure.
#
# Usage: bash scripts/build_pdf.sh [--execute]
#   default    render the chapters' stored outputs: the outputs the test command compares
#              (nbval, strict) with a fresh execution, so the PDF shows the same numbers as
#              the web book without executing every chapter a second time.
#   --execute  execute every chapter afresh, like scripts/build_book.sh.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
export ICLBOOK_WIDGETS=static
execute=off
while [ $# -gt 0 ]; do
  case "$1" in
    --execute) execute=force ;;
    *) echo "unknown argument: $1 (usage: build_pdf.sh [--execute])" >&2; exit 2 ;;
  esac
  shift
done
# Debian/Ubuntu TeX Live: XeLaTeX (the book's text has Unicode: Greek letters, ≥, ...) with
# the FreeFont fonts Sphinx uses for it, latexmk, and pdftotext for the check.
if ! command -v xelatex >/dev/null 2>&1 || ! command -v latexmk >/dev/null 2>&1 \
   || ! command -v pdftotext >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended texlive-xetex \
    latexmk lmodern fonts-freefont-otf tex-gyre poppler-utils
fi
# The execution mode goes into a copy of _config.yml (jupyter-book has no command-line
# override; local extensions' paths, relative to the config file, are made absolute);
# everything else is the book's own configuration.
mkdir -p _build
config="_build/_config.pdf.yml"
python - "$execute" "$config" <<'PY'
import sys
from pathlib import Path

import yaml

execute, out = sys.argv[1], Path(sys.argv[2])
cfg = yaml.safe_load(Path("_config.yml").read_text(encoding="utf-8"))
cfg.setdefault("execute", {})["execute_notebooks"] = execute
local = cfg.get("sphinx", {}).get("local_extensions") or {}
for name, path in local.items():
    local[name] = str(Path(path).resolve())
out.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True), encoding="utf-8")
PY
start=$(date +%s)
rm -rf _build/latex
jupyter-book build . --builder pdflatex --config "$config" --warningiserror --keep-going
echo ">> PDF built in $(( $(date +%s) - start )) s (execute_notebooks: $execute)"
python scripts/check_pdf.py _build/latex/iclbook.pdf
