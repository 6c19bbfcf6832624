#!/usr/bin/env bash
# What compare-and-set saves cost: builds `flacon` at REV (default: the commit before
# compare-and-set landed) and at the work tree, then runs bench/overlap_bench.py, which
# measures both back to back on memory, SQLite, PostgreSQL and Redis and writes
# bench/results/overlap.md.
# Usage: bench/overlap-bench.sh [--before-rev REV] [--duration SECS] [--pairs N]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
rev=$(git log --format=%H -n1 --grep='^Overlapping requests lose nothing' | xargs -I{} git rev-parse {}~1)
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --before-rev) rev=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
for tool in wrk redis-server taskset; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install wrk redis-server util-linux)" >&2; exit 1; }
done
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "missing PostgreSQL (apt-get install postgresql)" >&2; exit 1; }
cargo build --release -p flacon-cli
before=target/bench-before
rm -rf "$before" && git worktree prune
git worktree add --detach "$before" "$rev" >/dev/null
trap 'git worktree remove --force "$before"' EXIT
(cd "$before" && CARGO_TARGET_DIR="$root/target/before" cargo build --release -p flacon-cli)
python3 bench/overlap_bench.py --before target/before/release/flacon --after target/release/flacon \
  --label "before: $(git rev-parse --short "$rev"), after: $(git rev-parse --short HEAD)$(git diff --quiet || echo ' + changes')" \
  "${args[@]}"
