#!/usr/bin/env python3
"""HTTP benchmark: flacon against raw axum, tower-sessions, actix-session and Flask, in one run.

Every server runs pinned to core 0 (taskset), wrk and Redis to core 1. Each server is first
checked to really keep a session (set an email, read it back); then wrk drives
  read:  GET /get_email with the session cookie,
  write: POST /set_email with a fresh email per request on the same session,
with 32 connections for a fixed duration. Errors (non-2xx/3xx, socket errors) are counted.

With --rounds N every server is measured N times, round after round (so that a slow
stretch of a shared machine hits all servers, not one); each cell then shows the median
run, the min-max of req/s, and the median of the per-round ratios to raw axum.

Then the ratios issue 12 sets targets for are measured again, each from its two servers run
back to back (--pairs N times, --pair-duration SECS each, order alternating), and printed
with their targets under the table.

Usage: bench/http_bench.py [--duration SECS] [--rounds N] [--pairs N] [--pair-duration SECS]
                           [--only NAME,...] [--out bench/results]
Run through bench/http-bench.sh, which builds everything first.
"""

import argparse
import http.client
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEY = "benchmark-secret-key-7f3a9c1e5b2d"
PEERS = ROOT / "bench/peers/target/release"
FLACON = ROOT / "target/release/flacon"
VENV = ROOT / "target/pyenv/bin"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not open its port")


def servers(redis_url, tmp):
    flacon = lambda store: [str(FLACON), "serve", "--secret-key", KEY, "--store", store]
    return [
        ("raw axum (floor)", lambda p: [str(PEERS / "raw_axum"), str(p)], None),
        ("flacon cookie", lambda p: flacon("cookie") + ["--addr", f"127.0.0.1:{p}"], None),
        ("flacon cookie, default request log", lambda p: flacon("cookie") + ["--addr", f"127.0.0.1:{p}"], None),
        ("flacon cookie, encrypted", lambda p: flacon("cookie") + ["--encrypt", "--addr", f"127.0.0.1:{p}"], None),
        # The plain row's very session, with the registry consulted on every request.
        ("flacon cookie, revocation check",
         lambda p: flacon("cookie") + ["--revocations", f"sqlite:{tmp}/revoked-{p}.db", "--addr", f"127.0.0.1:{p}"],
         None),
        ("flacon cookie, signed in", lambda p: flacon("cookie") + ["--addr", f"127.0.0.1:{p}"], None),
        ("flacon cookie, signed in, revocation check",
         lambda p: flacon("cookie") + ["--revocations", f"sqlite:{tmp}/revoked-{p}.db", "--addr", f"127.0.0.1:{p}"],
         None),
        ("flacon memory", lambda p: flacon("memory") + ["--addr", f"127.0.0.1:{p}"], None),
        ("flacon sqlite", lambda p: flacon(f"sqlite:{tmp}/bench-{p}.db") + ["--addr", f"127.0.0.1:{p}"], None),
        ("flacon redis", lambda p: flacon(redis_url) + ["--addr", f"127.0.0.1:{p}"], "redis"),
        ("flacon, peers' views: cookie", lambda p: [str(PEERS / "flacon_views"), str(p), redis_url, "cookie"], None),
        ("flacon, peers' views: memory", lambda p: [str(PEERS / "flacon_views"), str(p), redis_url, "memory"], None),
        ("flacon, peers' views: sqlite", lambda p: [str(PEERS / "flacon_views"), str(p), redis_url,
                                                    f"sqlite:{tmp}/views-{p}.db"], None),
        ("flacon, peers' views: redis", lambda p: [str(PEERS / "flacon_views"), str(p), redis_url, "redis"], "redis"),
        ("tower-sessions memory", lambda p: [str(PEERS / "tower_sessions"), str(p), redis_url, "memory"], None),
        ("tower-sessions redis", lambda p: [str(PEERS / "tower_sessions"), str(p), redis_url, "redis"], "redis"),
        ("actix-session cookie", lambda p: [str(PEERS / "actix_session"), str(p), redis_url, "cookie"], None),
        ("actix-session redis", lambda p: [str(PEERS / "actix_session"), str(p), redis_url, "redis"], "redis"),
        ("flacon on actix-web: cookie", lambda p: [str(PEERS / "flacon_actix"), str(p), redis_url, "cookie"], None),
        ("flacon on actix-web: redis", lambda p: [str(PEERS / "flacon_actix"), str(p), redis_url, "redis"], "redis"),
        ("Flask + gunicorn (2 workers)", lambda p: [str(VENV / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{p}",
                                                    "--chdir", str(ROOT / "tests/python"), "--log-level", "warning",
                                                    "article_app:app"], None),
    ]


def request(port, method, path, cookies=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read().decode()
    set_cookies = resp.headers.get_all("Set-Cookie") or []
    conn.close()
    return resp.status, data, set_cookies


def cookies_of(set_cookies, cookies=None):
    cookies = dict(cookies or {})
    for c in set_cookies:
        name, _, rest = c.partition("=")
        cookies[name] = rest.split(";")[0]
    return cookies


def establish_session(port, signed_in=False):
    """Sets an email (after signing in, for the rows that measure signed-in sessions), reads
    it back: proves the server keeps sessions. Returns the cookies."""
    cookies = {}
    if signed_in:
        # The sign-in form carries flacon's CSRF token; the post sends it back.
        status, page, set_cookies = request(port, "GET", "/login")
        assert status == 200, f"login form answered {status}"
        cookies = cookies_of(set_cookies)
        token = page.split('name=csrf_token value="')[1].split('"')[0]
        status, _, set_cookies = request(port, "POST", "/login", cookies, body=f"user=bench&csrf_token={token}")
        assert status == 302, f"login answered {status}"
        cookies = cookies_of(set_cookies, cookies)
    status, _, set_cookies = request(port, "POST", "/set_email", cookies, body="email_address=bench%40example.com")
    assert status in (200, 302, 303), f"set_email answered {status}"
    cookies = cookies_of(set_cookies, cookies)
    status, body, _ = request(port, "GET", "/get_email", cookies)
    assert status == 200 and "Welcome bench@example.com!" in body, f"session not kept: {status} {body[:120]}"
    cookie_bytes = sum(len(c) for c in set_cookies)
    return cookies, cookie_bytes


def cpu_ticks(pid):
    """utime + stime of a process and its live children (gunicorn workers)."""
    total = 0
    pids = [pid]
    try:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            pass
    return total


def redis_calls(port):
    if port is None:
        return 0
    out = subprocess.run(["redis-cli", "-p", str(port), "INFO", "commandstats"], capture_output=True, text=True).stdout
    return sum(int(m) for m in re.findall(r"calls=(\d+)", out))


def run_wrk(port, mix, cookies, duration, connections=32):
    header = "Cookie: " + "; ".join(f"{k}={v}" for k, v in cookies.items())
    cmd = ["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency",
           "-s", str(ROOT / f"bench/wrk/{mix}.lua"), "-H", header, f"http://127.0.0.1:{port}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60).stdout
    def unit(value, suffix):
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1000.0}[suffix]
    lat = {pct: unit(v, u) for pct, v, u in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)}
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(g) for g in sock.groups())
    return {"requests": total, "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": lat.get("50"), "p99_ms": lat.get("99"), "errors": errors}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--only", default="")
    ap.add_argument("--pair-duration", type=int, default=3)
    ap.add_argument("--pairs", type=int, default=4, help="back-to-back runs per target ratio (0: none)")
    ap.add_argument("--out", default=str(ROOT / "bench/results"))
    args = ap.parse_args()
    tick = os.sysconf("SC_CLK_TCK")
    tmp = tempfile.mkdtemp(prefix="flacon-bench-")
    redis_port = free_port()
    redis = subprocess.Popen(["taskset", "-c", "1", "redis-server", "--port", str(redis_port), "--save", "",
                              "--appendonly", "no", "--dir", tmp], stdout=subprocess.DEVNULL)
    wait_port(redis_port, redis)
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    only = [o.strip().lower() for o in args.only.split(",") if o.strip()]
    runs = []
    try:
        for round_ in range(1, args.rounds + 1):
            if args.rounds > 1:
                print(f"round {round_} of {args.rounds}", file=sys.stderr)
            runs += measure_round(servers(redis_url, tmp), only, redis_port, args.duration, tick)
        if args.pairs:
            print("back-to-back pairs", file=sys.stderr)
        pairs = measure_pairs(servers(redis_url, tmp), only, redis_port, args.pair_duration, args.pairs,
                              tick) if args.pairs else []
    finally:
        redis.terminate()
        redis.wait()
    rows = summarize(runs)
    machine = {"cpu": next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                            if l.startswith("model name")), platform.processor()),
               "cores": os.cpu_count(), "kernel": platform.release(), "duration_s": args.duration,
               "rounds": args.rounds,
               "connections": 32, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps({"machine": machine, "rows": rows, "pairs": pairs}, indent=1) + "\n")
    table = render_table(machine, rows) + ("\n" + render_targets(pairs, args.pair_duration) if pairs else "")
    (out / "latest.md").write_text(table)
    (out / "latest.svg").write_text(render_chart(rows))
    print(table)


def measure_server(name, command, uses_redis, mixes, redis_port, duration, tick):
    """Starts one server, checks it keeps a session, drives each mix once, stops it."""
    runs = []
    port = free_port()
    env = dict(os.environ, ARTICLE_APP_SECRET_KEY=KEY, RUST_LOG="warn")
    if "default request log" in name:
        del env["RUST_LOG"]
    proc = subprocess.Popen(["taskset", "-c", "0"] + command(port), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc)
        cookies, cookie_bytes = establish_session(port, signed_in="signed in" in name)
        for mix in mixes:
            subprocess.run(["redis-cli", "-p", str(redis_port), "CONFIG", "RESETSTAT"], capture_output=True)
            cpu0, calls0 = cpu_ticks(proc.pid), redis_calls(redis_port)
            result = run_wrk(port, mix, cookies, duration)
            cpu1, calls1 = cpu_ticks(proc.pid), redis_calls(redis_port)
            n = max(result["requests"], 1)
            result.update(server=name, mix=mix, cookie_bytes=cookie_bytes,
                          cpu_us_per_req=(cpu1 - cpu0) / tick * 1e6 / n,
                          redis_cmds_per_req=((calls1 - calls0 - 1) / n) if uses_redis else None)
            runs.append(result)
            print(f"  {name:<30} {mix:<5} {result['rps']:>10.0f} req/s  errors {result['errors']}", file=sys.stderr)
    except Exception as e:  # a broken server is reported, not fatal for the others
        print(f"  {name}: FAILED: {e}", file=sys.stderr)
        runs.append({"server": name, "mix": mixes[0], "failed": str(e)})
    finally:
        stop(proc)
    return runs


def stop(proc):
    """SIGTERM, then SIGKILL if the server has not exited within 10 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def measure_round(server_list, only, redis_port, duration, tick):
    """Each server once, both mixes."""
    runs = []
    for name, command, uses_redis in server_list:
        if only and not any(o in name.lower() for o in only):
            continue
        runs += measure_server(name, command, uses_redis, ("read", "write"), redis_port, duration, tick)
    for r in runs:
        floor = next((f for f in runs if f.get("server") == "raw axum (floor)" and f.get("mix") == r.get("mix")
                      and "rps" in f), None)
        if "rps" in r and floor:
            r["ratio_to_axum"] = r["rps"] / floor["rps"]
    return runs


def measure_pairs(server_list, only, redis_port, duration, repeats, tick):
    """The issue's ratios, each from its two servers measured back to back, `repeats` times
    (the order swapped every time, so a drifting machine favours neither): a ratio taken
    seconds apart, where the main table's servers are minutes apart."""
    by_name = {name: (command, uses_redis) for name, command, uses_redis in server_list}
    pairs = []
    for label, server, mix, base, base_mix, target in TARGETS:
        if only and not all(any(o in n.lower() for o in only) for n in (server, base)):
            continue
        ratios = []
        for i in range(repeats):
            order = [(server, mix), (base, base_mix)]
            rps = {}
            for name, m in (order if i % 2 == 0 else order[::-1]):
                got = measure_server(name, *by_name[name], (m,), redis_port, duration, tick)
                rps[name] = next((r["rps"] for r in got if "rps" in r), None)
            if rps[server] and rps[base]:
                ratios.append(rps[server] / rps[base])
        pairs.append({"label": label, "ratios": ratios, "target": target,
                      "median": statistics.median(ratios) if ratios else None})
    return pairs


def summarize(runs):
    """One row per server and mix: the median run by req/s, with the spread of all runs and
    the median of the per-round ratios. A server that failed in any round is shown failed."""
    rows = []
    keys = list(dict.fromkeys((r["server"], r["mix"]) for r in runs))
    for server, mix in keys:
        same = [r for r in runs if r["server"] == server and r["mix"] == mix]
        failed = next((r for r in same if "failed" in r), None)
        if failed:
            rows.append(failed)
            continue
        ordered = sorted(same, key=lambda r: r["rps"])
        row = dict(ordered[(len(ordered) - 1) // 2])
        row["rounds"] = len(same)
        row["rps_min"], row["rps_max"] = ordered[0]["rps"], ordered[-1]["rps"]
        ratios = [r["ratio_to_axum"] for r in same if "ratio_to_axum" in r]
        row["ratio_to_axum"] = statistics.median(ratios) if ratios else None
        rows.append(row)
    return rows


def fmt(v, spec):
    return "—" if v is None else format(v, spec)


def render_table(machine, rows):
    rounds = machine.get("rounds", 1)
    spread = rounds > 1
    lines = [f"Machine: {machine['cpu']}, {machine['cores']} cores, Linux {machine['kernel']}; "
             f"server on core 0, wrk + Redis on core 1; {machine['connections']} connections, "
             f"{machine['duration_s']} s per mix"
             + (f", {rounds} rounds (median run shown, req/s range over all rounds, × raw axum = median "
                "of the per-round ratios)" if spread else "")
             + f"; {machine['date']}.", "",
             "| server | mix | req/s |" + (" range |" if spread else "")
             + " p50 ms | p99 ms | × raw axum | server CPU µs/req | Redis cmds/req | cookie bytes | errors |",
             "|---|---|---:|" + ("---:|" if spread else "") + "---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "failed" in r:
            lines.append(f"| {r['server']} | — | failed: {r['failed']} |" + (" |" if spread else "") + " | | | | | | |")
            continue
        span = f" {r['rps_min'] / 1000:.1f}k–{r['rps_max'] / 1000:.1f}k |" if spread else ""
        lines.append(f"| {r['server']} | {r['mix']} | {r['rps']:.0f} |{span} {fmt(r['p50_ms'], '.2f')} | "
                     f"{fmt(r['p99_ms'], '.2f')} | {fmt(r.get('ratio_to_axum'), '.2f')} | {r['cpu_us_per_req']:.1f} | "
                     f"{fmt(r['redis_cmds_per_req'], '.2f')} | {r['cookie_bytes']} | {r['errors']} |")
    return "\n".join(lines) + "\n"


# The ratios issue 12 sets targets for (label, server, mix, base server, base mix, target),
# measured by measure_pairs.
TARGETS = [
    ("`flacon serve`, default request log, read × raw axum", "flacon cookie, default request log", "read",
     "raw axum (floor)", "read", 0.80),
    ("`flacon serve`, RUST_LOG=warn, read × raw axum", "flacon cookie", "read", "raw axum (floor)", "read", None),
    ("library, signed cookie, read × raw axum", "flacon, peers' views: cookie", "read",
     "raw axum (floor)", "read", 0.95),
    ("library, signed cookie, write × raw axum", "flacon, peers' views: cookie", "write",
     "raw axum (floor)", "write", 0.85),
    ("library, Redis, read × actix-session Redis", "flacon, peers' views: redis", "read",
     "actix-session redis", "read", 1.25),
    ("library, Redis, write × actix-session Redis", "flacon, peers' views: redis", "write",
     "actix-session redis", "write", 1.50),
    ("flacon on actix-web, Redis, read × actix-session Redis", "flacon on actix-web: redis", "read",
     "actix-session redis", "read", None),
    ("flacon on actix-web, Redis, write × actix-session Redis", "flacon on actix-web: redis", "write",
     "actix-session redis", "write", None),
    ("library, SQLite read × memory read", "flacon, peers' views: sqlite", "read",
     "flacon, peers' views: memory", "read", 0.85),
    ("`flacon serve`, SQLite read × memory read", "flacon sqlite", "read", "flacon memory", "read", 0.85),
    ("`flacon serve`, encrypted read × signed read", "flacon cookie, encrypted", "read", "flacon cookie", "read",
     None),
    ("`flacon serve`, signed in + revocation check read × signed in read",
     "flacon cookie, signed in, revocation check", "read", "flacon cookie, signed in", "read", None),
]


def render_targets(pairs, duration):
    """The issue's ratios from back-to-back pairs, their median, the target, whether it is met."""
    repeats = max((len(p["ratios"]) for p in pairs), default=0)
    lines = [f"Issue 12's ratios, each pair of servers measured back to back ({duration} s per run, "
             f"{repeats} pairs, order alternating):", "",
             "| ratio | " + " | ".join(f"pair {n + 1}" for n in range(repeats)) + " | median | target | met |",
             "|---|" + "---:|" * repeats + "---:|---:|---|"]
    for p in pairs:
        cells = [fmt(x, ".2f") for x in p["ratios"]] + ["—"] * (repeats - len(p["ratios"]))
        met = "—" if p["target"] is None or p["median"] is None else ("yes" if p["median"] >= p["target"] else "no")
        lines.append(f"| {p['label']} | " + " | ".join(cells)
                     + f" | {fmt(p['median'], '.2f')} | {fmt(p['target'], '.2f')} | {met} |")
    return "\n".join(lines) + "\n"


def render_chart(rows):
    """A horizontal bar chart of req/s per server and mix, with the raw-axum floor marked."""
    data = [r for r in rows if "rps" in r]
    servers_ = list(dict.fromkeys(r["server"] for r in data))
    top = max([r["rps"] for r in data] + [1])
    bar_h, gap, left, width = 14, 10, 230, 520
    height = 60 + len(servers_) * (2 * bar_h + gap)
    colors = {"read": "#3b7dd8", "write": "#e07b39"}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 90}" height="{height}" '
           'font-family="sans-serif" font-size="12">',
           f'<text x="10" y="20" font-size="14" font-weight="bold">Requests per second, one server core '
           '(higher is better)</text>',
           '<rect x="10" y="30" width="12" height="10" fill="#3b7dd8"/><text x="26" y="39">read: GET /get_email</text>',
           '<rect x="170" y="30" width="12" height="10" fill="#e07b39"/><text x="186" y="39">write: POST /set_email</text>']
    floor = {r["mix"]: r["rps"] for r in data if r["server"] == "raw axum (floor)"}
    y = 50
    for s in servers_:
        out.append(f'<text x="{left - 8}" y="{y + bar_h + 4}" text-anchor="end">{s}</text>')
        for mix in ("read", "write"):
            r = next((r for r in data if r["server"] == s and r["mix"] == mix), None)
            if r:
                w = r["rps"] / top * width
                out.append(f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" fill="{colors[mix]}"/>')
                out.append(f'<text x="{left + w + 4:.1f}" y="{y + bar_h - 3}">{r["rps"]:.0f}</text>')
            y += bar_h
        y += gap
    for mix, rps in floor.items():
        x = left + rps / top * width
        out.append(f'<line x1="{x:.1f}" y1="46" x2="{x:.1f}" y2="{height - 4}" stroke="{colors[mix]}" '
                   'stroke-dasharray="4 3"/>')
    out.append(f'<text x="{left}" y="{height - 2}" fill="#555">dashed lines: the raw-axum floor</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
