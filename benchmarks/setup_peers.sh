#!/usr/bin/env bash
# Create one virtualenv per peer tool (NannyML, Evidently) under .bench/venvs/, from the pinned lists in
# benchmarks/peers/. The peers cannot share the project's environment: their pins conflict with ours.
set -euo pipefail
source "$(dirname "$0")/../scripts/_bootstrap.sh"  # also moves to the project root
for peer in ${@:-nannyml evidently}; do
  venv=".bench/venvs/$peer"
  if [ ! -x "$venv/bin/python" ]; then
    uv venv --quiet --python "$PYTHON" "$venv"
  fi
  VIRTUAL_ENV="$PWD/$venv" uv pip install --quiet -r "benchmarks/peers/$peer.txt"
  echo "$venv ready" >&2
done
