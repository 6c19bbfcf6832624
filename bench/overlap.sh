#!/usr/bin/env bash
# The README's "Overlapping requests" table: `flacon serve` on every store (and signed
# cookies, and the same app on Flask-Session), one session, one POST /set_email and 24
# GET /cart/add/<i> released together, every key and cart item checked. TRIALS per row
# (default 1,000). Needs what the tests need (scripts/install-deps.sh).
# Usage: bench/overlap.sh [TRIALS]
set -euo pipefail
cd "$(dirname "$0")/.."
FLACON_OVERLAP_TRIALS=${1:-1000} cargo test --release -p flacon-cli --test overlap -- \
  --ignored --nocapture --exact measure_the_overlap_table
