#!/usr/bin/env bash
# Installs what the tests need and a fresh machine lacks: Debian's chromium and chromedriver
# (browser tests), redis-server and PostgreSQL (each test starts its own on a free port), nginx
# (the migration test runs its own), zlib headers and
# pkg-config (flate2 must link the system zlib for byte-exact cookies), python3-venv; then
# the private venv with the pinned Flask and Flask-Session stack (interop tests).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v nginx >/dev/null 2>&1 || missing+=(nginx)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
dpkg -s zlib1g-dev >/dev/null 2>&1 || missing+=(zlib1g-dev)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  if [ "$(id -u)" -eq 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    sudo apt-get update -qq
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
fi

bash tests/python/setup-venv.sh target/pyenv
