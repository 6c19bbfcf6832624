#!/usr/bin/env bash
# Runs every test of the workspace, installing first whatever a fresh machine lacks
# (scripts/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo test --workspace --all-features "$@"
