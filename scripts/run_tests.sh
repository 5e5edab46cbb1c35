#!/usr/bin/env bash
# Run every test: unit tests, notebooks (nbval, strict: outputs compared), lint.
source "$(dirname "${BASH_SOURCE[0]}")/_env.sh"
echo ">> ruff"
ruff check iclbook tests benchmarks scripts
echo ">> pytest: unit tests and notebooks"
python -m pytest tests --nbval book --nbval-sanitize-with tests/nbval_sanitize.cfg \
  --nbval-cell-timeout=600 -p no:cacheprovider "$@"
