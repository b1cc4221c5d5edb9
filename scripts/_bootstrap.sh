# Sourced by scripts/demo, scripts/test and scripts/stack: make sure uv exists, then install the locked environment
# into .venv. Needs only Python 3.11; uv goes into its own venv under .tools/ (never into the system Python, which
# PEP 668 marks externally managed on Debian 12 / Ubuntu 24.04).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ -n "${VIRTUAL_ENV:-}" ]; then  # use the machine's Python, not an activated venv's (which may lack pip)
  PATH="${PATH//"$VIRTUAL_ENV/bin:"/}"
  unset VIRTUAL_ENV
fi
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
# The real interpreter, not a shim (pyenv): uv recreates .venv whenever the path it is given differs, which would
# pull packages from under running processes (e.g. the native stack's workers).
PYTHON="$("$PYTHON" -c 'import sys; print(sys.executable)')"
if ! command -v uv >/dev/null 2>&1; then
  UV_VENV=.tools/uv-venv
  if [ ! -x "$UV_VENV/bin/uv" ]; then
    echo "installing uv from PyPI into $UV_VENV ..." >&2
    if ! "$PYTHON" -m venv "$UV_VENV" >/dev/null 2>&1; then
      rm -rf "$UV_VENV"
      echo "error: '$PYTHON -m venv' failed; on Debian/Ubuntu install it with: apt-get install python3-venv" >&2
      exit 1
    fi
    "$UV_VENV/bin/python" -m pip install --quiet "uv>=0.5,<1"
  fi
  uv() { "$UV_VENV/bin/uv" "$@"; }
fi
# Bytecode compiled once at install: where PYTHONDONTWRITEBYTECODE is set (as on CI's machines) every process would
# otherwise compile each imported module again (GX, MLflow, scikit-learn, Airflow: ~7 s of CPU per fresh process,
# paid by every Airflow task and CLI call). Later syncs skip files already compiled.
uv sync --frozen --compile-bytecode --python "$PYTHON" --quiet
