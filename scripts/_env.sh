# Shared set-up of the README's two commands: a virtual environment with everything installed.
# Sourced, not run. Creates .venv on first use; re-installs when a requirements file, the lock
# or the torch choice changes. Every package is installed at the exact version of
# requirements-lock.txt (pip constraints; regenerate with scripts/lock_requirements.py).
#
# Which torch wheel: ICLBOOK_TORCH=cpu adds PyTorch's CPU-only index
# (https://download.pytorch.org/whl/cpu), where pip picks torch==<lock version>+cpu, a wheel of
# under 200 MB, with no CUDA libraries. Unset (the default), pip takes torch from the indexes
# pip is configured with: from PyPI on Linux x86-64 that is the CUDA build, a wheel of several
# hundred MB plus NVIDIA's CUDA libraries (several GB); on macOS and Windows PyPI's wheel is
# CPU-only anyway. (A machine whose pip config points at a folder of CPU wheels gets those.)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
torch_args=()
case "${ICLBOOK_TORCH:-}" in
  "") ;;
  cpu) torch_args=(--extra-index-url https://download.pytorch.org/whl/cpu) ;;
  *) echo "ICLBOOK_TORCH must be 'cpu' or unset, got '${ICLBOOK_TORCH}'" >&2
     return 2 2>/dev/null || exit 2 ;;
esac
if [ ! -x .venv/bin/python ]; then
  echo ">> creating virtual environment .venv"
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo ">> warning: .venv has Python $(.venv/bin/python -V 2>&1 | cut -d' ' -f2); the lock" \
       "and the stored outputs are for 3.11 (set PYTHON=python3.11, remove .venv)" >&2
fi
VENV_PY="$ROOT/.venv/bin/python"
stamp=".venv/.iclbook-installed"
reqs=(requirements.txt requirements-test.txt requirements-lock.txt pyproject.toml)
choice="torch=${ICLBOOK_TORCH:-default}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$choice" ] \
   || [ -n "$(find "${reqs[@]}" -newer "$stamp" 2>/dev/null)" ]; then
  echo ">> installing requirements at the versions of requirements-lock.txt ($choice)"
  "$VENV_PY" -m pip install -q --upgrade pip
  "$VENV_PY" -m pip install -q ${torch_args[@]+"${torch_args[@]}"} -c requirements-lock.txt \
    -r requirements.txt -r requirements-test.txt
  "$VENV_PY" -m pip install -q -e . --no-deps
  echo "$choice" > "$stamp"
fi
export PATH="$ROOT/.venv/bin:$PATH"
# Progress bars off: the book and the tests are not watched, and bars carry timings.
export ICLBOOK_PROGRESS=0
export PYTHONHASHSEED=0
# Chapters show figures through the notebook's inline backend; an inherited MPLBACKEND (Agg)
# would make every plt.show() display nothing and every figure cell fail nbval.
unset MPLBACKEND
