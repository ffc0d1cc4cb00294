#!/usr/bin/env python3
"""Process-supervision benchmarks: tend (through tend-run) against the floor
(a bare loop that spawns the same program and waits for it), measured in the
same run on the same machine. See BENCHMARKS.md for results and method.

Usage: python3 bench/process_bench.py [--quick]

Every child is `tend-testkit`, a small static-ish Rust program that appends a
CLOCK_MONOTONIC stamp (ns) to a file, optionally sleeps, and exits; gaps are
computed from those stamps, so the supervisor's own clock is never trusted.
"""

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUICK = "--quick" in sys.argv
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"


def build():
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "tend-run", "-p", "tend-testkit"],
        cwd=ROOT, check=True,
    )
    return TARGET / "tend-run", TARGET / "tend-testkit"


def stamps(path):
    try:
        return [int(line) for line in Path(path).read_text().split()]
    except FileNotFoundError:
        return []


def percentile(values, p):
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


def gaps_ms(starts, child_ms):
    """Exit-to-restart gaps: next start minus (this start + the child's run)."""
    return [(b - a) / 1e6 - child_ms for a, b in zip(starts, starts[1:])]


def floor_loop(testkit, seconds, child_ms, out):
    """The physical floor: a bare Rust loop (std::process) that spawns the
    same program and waits for it, for `seconds`."""
    args = [str(testkit), "spawn-loop", str(seconds), str(testkit), "stamp", out, "--exit", "1"]
    if child_ms:
        args += ["--sleep", str(child_ms)]
    subprocess.run(args, stdout=subprocess.DEVNULL, check=True)
    return stamps(out)


def supervised(tend_run, testkit, seconds, child_ms, out, cgroup=True):
    args = [str(tend_run), "--backoff", "0", "--", str(testkit), "stamp", out, "--exit", "1"]
    if child_ms:
        args += ["--sleep", str(child_ms)]
    env = dict(os.environ, TEND_CGROUP="on" if cgroup else "off")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    time.sleep(seconds)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    return stamps(out)


def restart_rows(tend_run, testkit, tmp):
    seconds = 3 if QUICK else 10
    rows = []
    for child_ms in (0, 200):
        floor = floor_loop(testkit, seconds, child_ms, f"{tmp}/floor-{child_ms}")
        tend = supervised(tend_run, testkit, seconds, child_ms, f"{tmp}/tend-{child_ms}")
        groups_only = supervised(tend_run, testkit, seconds, child_ms, f"{tmp}/pg-{child_ms}", cgroup=False)
        contenders = (
            ("floor: bare Rust spawn+wait loop", floor),
            ("tend-run --backoff 0 (cgroup per child)", tend),
            ("tend-run --backoff 0, TEND_CGROUP=off (process group only)", groups_only),
        )
        for name, starts in contenders:
            if len(starts) < 3:
                rows.append((name, child_ms, "n/a", "n/a", "n/a"))
                continue
            span = (starts[-1] - starts[0]) / 1e9
            rate = (len(starts) - 1) / span
            gaps = gaps_ms(starts, child_ms)
            rows.append((name, child_ms, f"{rate:,.0f}/s", f"{statistics.median(gaps):.2f} ms", f"{percentile(gaps, 99):.2f} ms"))
    return rows


def proc_stat(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, in ticks


def children(pid):
    total = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        total += (task / "children").read_text().split()
    return total


def pss_kib(pid):
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def thousand_sleepers(tend_run):
    n = 1000
    start = time.monotonic()
    proc = subprocess.Popen([str(tend_run), "--replicas", str(n), "--", "sleep", "100000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while len(children(proc.pid)) < n:
        time.sleep(0.005)
    up = time.monotonic() - start
    time.sleep(1)
    pss = pss_kib(proc.pid)
    idle_seconds = 5 if QUICK else 30
    before = proc_stat(proc.pid)
    time.sleep(idle_seconds)
    idle_ticks = proc_stat(proc.pid) - before
    stop_start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    stop = time.monotonic() - stop_start
    return n, up, pss, idle_ticks, idle_seconds, stop


def log_throughput(tend_run, testkit, tmp):
    lines = 1_000_000 if QUICK else 5_000_000
    size_mb = lines * 40 / 1e6
    cat_out = f"{tmp}/cat.log"
    start = time.monotonic()
    subprocess.run(f"{testkit} flood {lines} --width 39 | cat > {cat_out}", shell=True, check=True)
    cat_s = time.monotonic() - start
    tend_out = f"{tmp}/tend.log"
    start = time.monotonic()
    subprocess.run([str(tend_run), "--restart", "never", "--log", tend_out, "--",
                    str(testkit), "flood", str(lines), "--width", "39"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    tend_s = time.monotonic() - start
    with open(tend_out) as f:
        ok = all(int(line[:9]) == i for i, line in enumerate(f, 1))
    return size_mb, size_mb / cat_s, size_mb / tend_s, ok


def main():
    tend_run, testkit = build()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"machine: {os.cpu_count()} CPUs, {os.uname().release}; quick={QUICK}\n")
        print("| contender | child runs | restarts/s | gap p50 | gap p99 |")
        print("|---|---|---|---|---|")
        for name, child_ms, rate, p50, p99 in restart_rows(tend_run, testkit, tmp):
            print(f"| {name} | {child_ms} ms | {rate} | {p50} | {p99} |")
        if "--restarts-only" in sys.argv:
            return
        n, up, pss, ticks, idle_s, stop = thousand_sleepers(tend_run)
        print(f"\n| {n} sleep children | all running | tend-run PSS | CPU ticks idle {idle_s} s | stop all |")
        print("|---|---|---|---|---|")
        print(f"| tend-run | {up:.2f} s | {pss / 1024:.1f} MiB | {ticks} | {stop:.2f} s |")
        size, cat_rate, tend_rate, ok = log_throughput(tend_run, testkit, tmp)
        print(f"\n| log capture, {size:.0f} MB flood | MB/s | vs cat | every line once, in order |")
        print("|---|---|---|---|")
        print(f"| flood \\| cat > file | {cat_rate:.0f} | 100 % | - |")
        print(f"| tend-run --log | {tend_rate:.0f} | {100 * tend_rate / cat_rate:.0f} % | {ok} |")


if __name__ == "__main__":
    main()
