# Shared set-up of the README's two commands: a virtual environment with everything installed.
# Sourced, not run. Creates .venv on first use; re-installs when a requirements file changes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo ">> creating virtual environment .venv"
  "$PY" -m venv .venv
fi
VENV_PY="$ROOT/.venv/bin/python"
stamp=".venv/.iclbook-installed"
reqs=(requirements.txt requirements-test.txt pyproject.toml)
if [ ! -f "$stamp" ] || [ -n "$(find "${reqs[@]}" -newer "$stamp" 2>/dev/null)" ]; then
  echo ">> installing requirements (torch resolves to the CPU build: torch<2.14)"
  "$VENV_PY" -m pip install -q --upgrade pip
  "$VENV_PY" -m pip install -q -r requirements.txt -r requirements-test.txt
  "$VENV_PY" -m pip install -q -e . --no-deps
  touch "$stamp"
fi
export PATH="$ROOT/.venv/bin:$PATH"
# Progress bars off: the book and the tests are not watched, and bars carry timings.
export ICLBOOK_PROGRESS=0
export PYTHONHASHSEED=0
# Chapters show figures through the notebook's inline backend; an inherited MPLBACKEND (Agg)
# would make every plt.show() display nothing and every figure cell fail nbval.
unset MPLBACKEND
