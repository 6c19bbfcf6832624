#!/usr/bin/env bash
# Signed-in read latency against an empty revocation registry and one holding a million
# denials, while a second process signs in and out in a loop (the security review's point
# 4). Builds flacon (release), then runs bench/registry_churn.py; writes
# bench/results/registry.md.
# Usage: bench/registry-churn.sh [--duration SECS] [--sizes 0,1000000]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
for tool in wrk taskset; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install wrk util-linux)" >&2; exit 1; }
done
cargo build --release -p flacon-cli
python3 bench/registry_churn.py target/release/flacon "$@"
