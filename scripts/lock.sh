#!/usr/bin/env bash
# Re-pin requirements.lock (exact versions with hashes) from pyproject.toml and its dev extra.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q pip-tools
"$tmp/venv/bin/pip-compile" -q --extra dev --generate-hashes --strip-extras --allow-unsafe \
  --no-emit-index-url -o requirements.lock pyproject.toml
