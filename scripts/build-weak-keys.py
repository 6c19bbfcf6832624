#!/usr/bin/env python3
"""Builds crates/flacon/data/weak-keys.z: the secret keys published in public Flask code, as
flask-unsign-wordlist (MIT, https://pypi.org/project/flask-unsign-wordlist/) collects them,
which `flacon key check` and `flacon serve` refuse and `flacon cookie audit` tries.

Each wordlist line is a Python literal (how flask-unsign reads it); entries are written as a
2-byte big-endian length and the key's bytes (UTF-8 for text), deduplicated, in list order,
then zlib-compressed.

    python3 -m pip download --no-deps flask-unsign-wordlist==2024.1 -d /tmp/fuw
    python3 scripts/build-weak-keys.py /tmp/fuw/flask_unsign_wordlist-2024.1-py2.py3-none-any.whl
"""
import ast
import sys
import zipfile
import zlib
from pathlib import Path

wheel = zipfile.ZipFile(sys.argv[1])
text = wheel.read("flask_unsign_wordlist/wordlists/all.txt").decode("utf-8", "surrogateescape")
seen, out = set(), bytearray()
for line in text.splitlines():
    line = line.strip()
    if not line:
        continue
    try:
        value = ast.literal_eval(line)
    except (ValueError, SyntaxError):
        value = line
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape")
    if not isinstance(value, bytes) or not value or len(value) > 0xFFFF or value in seen:
        continue
    seen.add(value)
    out += len(value).to_bytes(2, "big") + value
target = Path(__file__).resolve().parent.parent / "crates/flacon/data/weak-keys.z"
target.write_bytes(zlib.compress(bytes(out), 9))
print(f"{len(seen)} keys, {len(out)} bytes, {target.stat().st_size} compressed -> {target}")
