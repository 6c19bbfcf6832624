#!/usr/bin/env bash
# Codec speed against Flask's own serializer, same sessions, same machine, one run.
# Usage: bench/codec-vs-flask.sh      (takes about two minutes)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash tests/python/setup-venv.sh target/pyenv
cargo bench -p flacon --bench codec -- --noplot >/dev/null
flask_json=$(target/pyenv/bin/python bench/flask_codec_bench.py)
python3 - "$flask_json" <<'PY'
import json, pathlib, sys
flask = json.loads(sys.argv[1])
print(f"{'operation':<16}{'flacon':>12}{'Flask':>12}{'ratio':>10}")
for name, flask_ns in flask.items():
    est = json.loads(pathlib.Path(f"target/criterion/{name.replace('/', '_')}/new/estimates.json").read_text())
    ours = est["median"]["point_estimate"]
    print(f"{name:<16}{ours/1000:>10.3f}us{flask_ns/1000:>10.2f}us{flask_ns/ours:>9.1f}x")
PY
