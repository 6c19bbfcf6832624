#!/usr/bin/env bash
# The HTTP benchmark in one command: builds flacon and the peer servers (release), installs
# gunicorn into the test venv, then runs bench/http_bench.py and prints the table.
# Usage: bench/http-bench.sh [--duration SECS] [--rounds N] [--pairs N] [--pair-duration SECS] [--only NAME,...]
#   (default 10 s per mix, 1 round, then 4 back-to-back pairs of 3 s per target ratio)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
for tool in wrk redis-server taskset; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install wrk redis-server util-linux)" >&2; exit 1; }
done
bash tests/python/setup-venv.sh target/pyenv
target/pyenv/bin/pip install --quiet --disable-pip-version-check -r bench/requirements.txt
cargo build --release -p flacon-cli
(cd bench/peers && cargo build --release)
python3 bench/http_bench.py "$@"
