#!/usr/bin/env bash
# Run every test: lint; unit tests and notebooks (nbval, strict: outputs compared); then build
# the book (warnings = errors) and test the built pages in a real browser (Chromium through
# Playwright, offline: maths, images, links, widget sliders), with the page-weight table.
# Extra arguments go to the first pytest run.
# Each chapter is executed once: nbval runs it in the build's widget mode and records every
# chapter that passes into the build's execution cache (tests/nbval_record.py, --book-cache);
# the build renders those from the cache and executes only what is missing or stale
# (scripts/book_cache.py). ICLBOOK_REUSE_BUILD=1 skips the build and tests the existing
# _build/html. The quick inner loop (no notebooks, no slow tests, no build) is in
# CONTRIBUTING.md ("Tests").
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"

# pytest exits with 5 when it collects no test (e.g. a filter that matches nothing): not a
# failure of the book, so report it and go on; every other non-zero code fails the run.
run_pytest() {
  local rc=0
  python -m pytest "$@" || rc=$?
  if [ "$rc" -eq 5 ]; then
    echo ">> pytest collected no tests (exit code 5): nothing to check here"
    return 0
  fi
  return "$rc"
}

# step NAME: prints NAME, and the previous step's wall time; `step` alone ends the last one.
# The table of all steps is printed at the end, also when a step fails.
steps=()
step_name=""
step_start=0
step() {
  local now
  now=$(date +%s)
  if [ -n "$step_name" ]; then
    steps+=("$(printf '%-52s %5d s' "$step_name" $(( now - step_start )))")
  fi
  step_name="${1:-}"
  step_start=$now
  if [ -n "$step_name" ]; then echo ">> $step_name"; fi
}
step_table() {
  step
  echo ">> test command steps (wall clock)"
  printf '   %s\n' "${steps[@]}"
}
trap step_table EXIT

step "ruff"
ruff check .
step "build the student edition once (stored outputs) for its tests and its crawl"
bash scripts/build_student_edition.sh --stored-outputs
export ICLBOOK_STUDENT_HTML="$ROOT/_build/student/html"
step "pytest: unit tests and notebooks (each chapter recorded into the build's cache)"
run_pytest tests --ignore=tests/browser --nbval book \
  --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=600 \
  --book-cache "$ROOT/_build/.jupyter_cache" -p no:cacheprovider "$@"
if [ "${ICLBOOK_REUSE_BUILD:-0}" = "1" ] && [ -f _build/html/index.html ]; then
  step "reusing the existing build in _build/html (ICLBOOK_REUSE_BUILD=1)"
else
  step "build the book (chapters from the cache nbval filled)"
  bash scripts/build_book.sh
fi
step "page weight (HTML + embedded widget state + referenced images)"
python scripts/page_weight.py _build/html
step "browser tests on _build/html (screenshots in _build/screenshots)"
run_pytest tests/browser -p no:cacheprovider -rs
step
