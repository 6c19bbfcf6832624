"""Signed-in reads against a revocation registry that is empty, then one that holds a
million denials, while a second `flacon serve` on the same registry signs an account in and
out in a loop (the security review's point 4). Prints and writes the read latency (wrk) and
how many reads were refused, per registry size.

Usage: registry_churn.py FLACON_BINARY [--duration SECS] [--sizes 0,1000000]
Targets 127.0.0.1 only; every server it starts is stopped before it exits.
"""

import argparse
import http.client
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

KEY = "registry-churn-bench-key-5d2c7e"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(port, method, path, cookies="", body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Cookie": cookies} if cookies else {}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    text = resp.read().decode()
    set_cookies = resp.headers.get_all("Set-Cookie") or []
    conn.close()
    return resp.status, text, set_cookies


def merged(cookies, set_cookies):
    jar = dict(c.split("=", 1) for c in cookies.split("; ") if "=" in c)
    for header in set_cookies:
        name, _, rest = header.partition("=")
        value = rest.split(";")[0]
        if value:
            jar[name] = value
        else:
            jar.pop(name, None)
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def submit(port, page, action, cookies, form):
    """A form post as a browser makes it: the page's CSRF token, then the post."""
    _, body, set_cookies = request(port, "GET", page, cookies)
    token = body.split('name=csrf_token value="')[1].split('"')[0]
    cookies = merged(cookies, set_cookies)
    form = f"{form}&csrf_token={token}" if form else f"csrf_token={token}"
    status, _, set_cookies = request(port, "POST", action, cookies, form)
    return status, merged(cookies, set_cookies)


def seed(path, denials):
    db = sqlite3.connect(path)
    now = int(time.time())
    db.executescript(
        """
        CREATE TABLE flacon_revoked_users (user TEXT PRIMARY KEY NOT NULL, before_ms INTEGER NOT NULL,
            logouts INTEGER NOT NULL DEFAULT 0, version INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
        CREATE TABLE flacon_revoked_tokens (token TEXT PRIMARY KEY NOT NULL, until INTEGER NOT NULL,
            version INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
        CREATE TABLE flacon_revocation_version (one INTEGER PRIMARY KEY CHECK (one = 1),
            version INTEGER NOT NULL, generation INTEGER NOT NULL DEFAULT 0);
        """
    )
    db.execute("INSERT INTO flacon_revocation_version VALUES (1, 1, ?)", ((now - 86400) * 1000,))
    db.executemany(
        "INSERT INTO flacon_revoked_tokens VALUES (?, ?, 1)",
        ((f"seed-{i}", now + 3600) for i in range(denials)),
    )
    db.commit()
    db.close()


def serve(binary, registry, cpu):
    port = free_port()
    proc = subprocess.Popen(
        ["taskset", "-c", str(cpu), binary, "serve", "--addr", f"127.0.0.1:{port}",
         "--secret-key", KEY, "--revocations", f"sqlite:{registry}", "--threads", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "RUST_LOG": "warn"},
    )
    for line in proc.stderr:
        if "listening on" in line:
            break
    threading.Thread(target=proc.stderr.read, daemon=True).start()
    return proc, port


def measure(binary, denials, duration):
    with tempfile.TemporaryDirectory() as tmp:
        registry = os.path.join(tmp, "registry.db")
        seed(registry, denials)
        reader, reader_port = serve(binary, registry, 0)
        churner, churner_port = serve(binary, registry, 1)
        try:
            status, ada = submit(reader_port, "/login", "/login", "", "user=ada")
            assert status == 302, status
            stop = threading.Event()
            logouts = [0]

            def churn():
                while not stop.is_set():
                    _, eve = submit(churner_port, "/login", "/login", "", "user=eve")
                    status, _ = submit(churner_port, "/devices", "/logout", eve, "")
                    assert status == 302, status
                    logouts[0] += 1

            thread = threading.Thread(target=churn)
            thread.start()
            out = subprocess.run(
                ["taskset", "-c", "1", "wrk", "-t1", "-c8", f"-d{duration}s", "--latency",
                 "-H", f"Cookie: {ada}", f"http://127.0.0.1:{reader_port}/whoami"],
                capture_output=True, text=True, check=True,
            ).stdout
            stop.set()
            thread.join()
        finally:
            for proc in (reader, churner):
                proc.terminate()
                proc.wait(timeout=15)
    def latency(label):
        value, unit = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)\b", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    refused = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "denials": denials,
        "reads_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "refused": int(refused.group(1)) if refused else 0,
        "logouts_per_s": logouts[0] / duration,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--sizes", default="0,1000000")
    args = parser.parse_args()
    rows = [measure(args.binary, int(n), args.duration) for n in args.sizes.split(",")]
    lines = [
        "# Signed-in reads while another process signs in and out (revocation registry)",
        "",
        f"`bench/registry-churn.sh --duration {args.duration}`: two `flacon serve` (release, one "
        "thread each, cores 0 and 1) on one SQLite registry; wrk (8 connections, core 1) reads "
        "`/whoami` as a signed-in user on the first while a loop signs `eve` in and out on the "
        "second.",
        "",
        "| denials in the registry | reads/s | p50 ms | p99 ms | refused (503) | logouts/s |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['denials']:,} | {r['reads_per_s']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} "
            f"| {r['refused']} | {r['logouts_per_s']:.0f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs("bench/results", exist_ok=True)
    with open("bench/results/registry.md", "w") as f:
        f.write(text)


if __name__ == "__main__":
    sys.exit(main())
