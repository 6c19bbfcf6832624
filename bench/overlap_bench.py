"""What compare-and-set saves cost: `flacon serve` before and after them, back to back, on
every store, with wrk on 127.0.0.1.

- "write, no overlap": POST /set_email round-robin over 256 sessions (32 connections), so
  no two writes of one session overlap: the price of the compare-and-set alone.
- "write, 8 writers on one session": POST /set_email on one session from 8 connections at
  once: every save conflicts, re-reads and merges.

Usage: bench/overlap-bench.sh [--before REV] [--duration SECS] [--pairs N]
(run by the shell script, which builds both binaries).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from http_bench import (KEY, cookies_of, establish_session, free_port, request, run_wrk,  # noqa: E402
                        stop, wait_port)

ROOT = Path(__file__).resolve().parent.parent
SESSIONS = 256


def start_postgres(tmp):
    """A throwaway PostgreSQL cluster under `tmp` on a free port; (process, url)."""
    bindir = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
    data = Path(tmp) / "pg"
    data.mkdir()
    os.chmod(tmp, 0o755)  # the server's user must reach its data directory
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if run_as:
        subprocess.run(["chown", "postgres:postgres", str(data)], check=True)
    subprocess.run(run_as + [str(bindir / "initdb"), "-D", str(data), "-U", "flacon", "--auth=trust",
                             "--no-sync", "--locale=C", "-E", "UTF8"], check=True, capture_output=True)
    port = free_port()
    proc = subprocess.Popen(run_as + ["taskset", "-c", "1", str(bindir / "postgres"), "-D", str(data), "-p",
                                      str(port), "-h", "127.0.0.1", "-k", str(data), "-c", "fsync=off"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    time.sleep(1)
    return proc, f"postgres://flacon@127.0.0.1:{port}/postgres"


def spread_cookies(port, path):
    """SESSIONS sessions, each with an email: one Cookie header per line of `path`."""
    lines = []
    for n in range(SESSIONS):
        status, _, set_cookies = request(port, "POST", "/set_email", {}, body=f"email_address=s{n}%40example.com")
        assert status in (200, 302), f"set_email answered {status}"
        cookies = cookies_of(set_cookies)
        lines.append("; ".join(f"{k}={v}" for k, v in cookies.items()))
    Path(path).write_text("\n".join(lines) + "\n")


def measure(binary, store, mix, duration, tmp):
    port = free_port()
    env = dict(os.environ, RUST_LOG="error")
    proc = subprocess.Popen(["taskset", "-c", "0", binary, "serve", "--secret-key", KEY, "--store", store,
                             "--addr", f"127.0.0.1:{port}"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port, proc)
        if mix == "spread":
            cookie_file = Path(tmp) / f"cookies-{port}.txt"
            spread_cookies(port, cookie_file)
            os.environ["FLACON_BENCH_COOKIES"] = str(cookie_file)
            result = run_wrk(port, "spread", {}, duration)
        else:
            cookies, _ = establish_session(port)
            result = run_wrk(port, "write", cookies, duration, connections=8)
        return result
    finally:
        stop(proc)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True, help="the flacon binary without compare-and-set")
    ap.add_argument("--after", required=True, help="the flacon binary with it")
    ap.add_argument("--label", default="")
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--stores", default="", help="only these stores (comma-separated names)")
    ap.add_argument("--out", default=str(ROOT / "bench/results/overlap.md"))
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="flacon-overlap-")
    redis_port = free_port()
    redis = subprocess.Popen(["taskset", "-c", "1", "redis-server", "--port", str(redis_port), "--save", "",
                              "--appendonly", "no", "--dir", tmp], stdout=subprocess.DEVNULL)
    wait_port(redis_port, redis)
    postgres, postgres_url = start_postgres(tmp)
    stores = [("memory", lambda: "memory"),
              ("SQLite", lambda: f"sqlite:{tmp}/bench-{time.monotonic_ns()}.db"),
              ("PostgreSQL", lambda: postgres_url),
              ("Redis", lambda: f"redis://127.0.0.1:{redis_port}/0")]
    mixes = [("spread", "write, no overlap (256 sessions, 32 connections)"),
             ("one", "write, 8 writers on one session")]
    lines = [f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores "
             f"({args.label}); {args.duration} s per run, {args.pairs} back-to-back pairs (order swapped "
             "each time), median req/s. flacon on core 0, wrk and the stores on core 1.", "",
             "| store | mix | before (req/s) | after (req/s) | after / before | errors after |",
             "|---|---|---:|---:|---:|---:|"]
    only = [name.strip().lower() for name in args.stores.split(",") if name.strip()]
    try:
        for store_name, store in stores:
            if only and store_name.lower() not in only:
                continue
            for mix, mix_name in mixes:
                before, after, errors = [], [], 0
                for i in range(args.pairs):
                    order = [("before", args.before), ("after", args.after)]
                    for which, binary in (order if i % 2 == 0 else order[::-1]):
                        result = measure(binary, store(), mix, args.duration, tmp)
                        (before if which == "before" else after).append(result["rps"])
                        if which == "after":
                            errors += result["errors"]
                        print(f"  {store_name:<11} {mix:<7} {which:<6} {result['rps']:>9.0f} req/s "
                              f"errors {result['errors']}", file=sys.stderr)
                b, a = statistics.median(before), statistics.median(after)
                lines.append(f"| {store_name} | {mix_name} | {b:.0f} | {a:.0f} | {a / b:.3f} | {errors} |")
    finally:
        redis.terminate()
        postgres.terminate()
        redis.wait()
        postgres.wait()
    table = "\n".join(lines) + "\n"
    Path(args.out).write_text(table)
    print(table)


if __name__ == "__main__":
    main()
