# Sourced by scripts/demo and scripts/test: make sure uv exists (installed from PyPI if not), then install the
# locked environment into .venv. Needs only Python 3.11 with pip.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ -n "${VIRTUAL_ENV:-}" ]; then  # use the machine's Python, not an activated venv's (which may lack pip)
  PATH="${PATH//"$VIRTUAL_ENV/bin:"/}"
  unset VIRTUAL_ENV
fi
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if ! command -v uv >/dev/null 2>&1; then
  if ! "$PYTHON" -m uv --version >/dev/null 2>&1; then
    echo "installing uv from PyPI ..." >&2
    "$PYTHON" -m pip install --quiet "uv>=0.5,<1"
  fi
  uv() { "$PYTHON" -m uv "$@"; }
fi
uv sync --frozen --python "$PYTHON" --quiet
