#!/usr/bin/env bash
# Creates (once) a venv at $1 with the pinned Flask stack from requirements.txt.
set -euo pipefail
venv=${1:?usage: setup-venv.sh VENV_DIR}
here=$(cd "$(dirname "$0")" && pwd)
stamp="$venv/.requirements"
if [ -x "$venv/bin/python" ] && cmp -s "$here/requirements.txt" "$stamp"; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
cp "$here/requirements.txt" "$stamp"
