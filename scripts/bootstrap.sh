#!/usr/bin/env bash
# Install what trialsite needs on Debian 12: missing system packages (as root or with sudo),
# then the virtualenv with the locked Python dependencies. Safe to run again: it only does
# what is missing or out of date.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PYTHON=${PYTHON:-python3}

need=()
[ -x "$PGBIN/initdb" ]                 || need+=(postgresql)
command -v redis-server >/dev/null     || need+=(redis-server)
[ -x /usr/bin/chromium ]               || need+=(chromium)
command -v pdftoppm >/dev/null         || need+=(poppler-utils)
command -v docker-compose >/dev/null   || need+=(docker-compose)
dpkg -s libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core >/dev/null 2>&1 \
                                       || need+=(libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core)
"$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "missing system packages: ${need[*]} (run as root)" >&2; exit 1; }
    SUDO=sudo
  fi
  echo "Installing system packages: ${need[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
fi

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
stamp="$VENV/.lock.sha256"
sum=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$sum" ]; then
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q --require-hashes --no-deps -r requirements.lock
  "$VENV/bin/python" -m pip install -q --no-deps -e .
  echo "$sum" >"$stamp"
fi
