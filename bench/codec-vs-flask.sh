#!/usr/bin/env bash
# Codec speed against Flask's own serializer, same sessions, same machine, one run.
# Usage: bench/codec-vs-flask.sh      (takes about two minutes; writes bench/results/codec.md)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash tests/python/setup-venv.sh target/pyenv
cargo bench -p flacon --bench codec -- --noplot >/dev/null
flask_json=$(target/pyenv/bin/python bench/flask_codec_bench.py)
python3 - "$flask_json" <<'PY'
import json, pathlib, platform, sys, time
flask = json.loads(sys.argv[1])
print(f"{'operation':<16}{'flacon':>12}{'Flask':>12}{'ratio':>10}")
cpu = next((l.split(":", 1)[1].strip() for l in pathlib.Path("/proc/cpuinfo").read_text().splitlines()
            if l.startswith("model name")), platform.processor())
table = [f"Machine: {cpu}, Linux {platform.release()}; criterion medians for flacon, Flask's own "
         f"serializer timed in the same run; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
         "| operation | flacon | Flask | ratio | target | met |", "|---|---:|---:|---:|---:|---|"]
# Issue 12's floor: signing at least 15 times Flask's speed, verifying at least 10 times.
targets = {"sign": 15, "verify": 10}
for name, flask_ns in flask.items():
    est = json.loads(pathlib.Path(f"target/criterion/{name.replace('/', '_')}/new/estimates.json").read_text())
    ours = est["median"]["point_estimate"]
    print(f"{name:<16}{ours/1000:>10.3f}us{flask_ns/1000:>10.2f}us{flask_ns/ours:>9.1f}x")
    target = targets[name.split("/")[0]]
    met = "yes" if flask_ns / ours >= target else "no"
    table.append(f"| {name} | {ours/1000:.2f} µs | {flask_ns/1000:.1f} µs | {flask_ns/ours:.1f}× | {target}× | {met} |")
pathlib.Path("bench/results/codec.md").write_text("\n".join(table) + "\n")
PY
