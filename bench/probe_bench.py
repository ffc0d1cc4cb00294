#!/usr/bin/env python3
"""Benchmarks of readiness probes and dependency ordering in `tend up`, each
beside a baseline measured in the same run on the same machine. See
BENCHMARKS.md ("Probes and dependencies").

Usage: python3 bench/probe_bench.py [--quick] [--kinds=http,tcp,exec] [--no-graph]

1. Probe cost: 1,000 services, each probed once a second (a readiness
   probe of kind HTTP, TCP, then exec, one kind per run). The daemon's CPU
   over a window, minus its CPU over the same window with the same 1,000
   services unprobed, beside a bare loop (crates/tend-bench/examples/
   probe_loop.rs: tokio, two workers, one task per target) doing the same
   checks of the same targets for the same time. Both figures are the
   process's own CPU (utime + stime): the targets' (the servers, the
   `true` commands an exec check runs) is in neither.
2. Start-up of a dependency graph: 1,000 services in 10 levels of 100, each
   depending on two of the level before being ready (ready = a log line),
   from `tend up` until all 1,000 are running and ready; beside the same
   1,000 services without dependencies.
"""

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from program_bench import ROOT, TARGET, TICK, Tend, cpu_ticks, quoted, wait_for  # noqa: E402

QUICK = "--quick" in sys.argv
N = 1000
WINDOW_S = 5 if QUICK else 20
PORT0 = 21000


def build():
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "tend-cli", "-p", "tend-testkit"],
                   cwd=ROOT, check=True)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "tend-bench", "--example", "probe_loop"],
                   cwd=ROOT, check=True)
    return TARGET / "tend", TARGET / "tend-testkit", TARGET / "examples" / "probe_loop"


def config(testkit, kind, probed):
    lines = []
    for i in range(N):
        if kind == "exec":
            argv, check = [str(testkit), "hang"], 'exec = ["/bin/true"]'
        else:
            address = f"127.0.0.1:{PORT0 + i}"
            argv = [str(testkit), "serve", address]
            check = f'{kind} = "http://{address}/"' if kind == "http" else f'tcp = "{address}"'
        lines += [f"[services.p{i:04}]", "command = [" + ", ".join(quoted(a) for a in argv) + "]"]
        if probed:
            lines.append("readiness = { " + check + ', period = "1s", timeout = "2s" }')
        else:
            # Ready once listening, so the window starts with every target up.
            lines.append('ready = { log = "^listening$" }' if kind != "exec" else "")
        lines.append("")
    return "\n".join(lines)


def daemon_cpu(t, seconds):
    """CPU seconds the daemon used over `seconds`."""
    before = cpu_ticks(t.proc.pid)
    time.sleep(seconds)
    return (cpu_ticks(t.proc.pid) - before) / TICK


def probe_cost(tend, testkit, probe_loop, tmp, kind):
    # The same 1,000 targets, unprobed: the daemon's idle CPU, and the bare
    # loop's CPU probing them.
    t = Tend(tend, Path(tmp) / f"{kind}-bare", config(testkit, kind, probed=False))
    wait_for("1,000 ready", lambda: sum(s["ready"] for s in t.status()) == N, deadline=300)
    time.sleep(2)
    idle = daemon_cpu(t, WINDOW_S)
    targets = ["/bin/true"] * N if kind == "exec" else [f"127.0.0.1:{PORT0 + i}" for i in range(N)]
    loop = subprocess.Popen([str(probe_loop), kind, str(WINDOW_S), *targets], stdout=subprocess.PIPE, text=True)
    done, failed, ticks = (int(x) for x in loop.communicate()[0].split())
    bare = ticks / TICK
    t.down()

    t = Tend(tend, Path(tmp) / f"{kind}-probed", config(testkit, kind, probed=True))
    wait_for("1,000 ready", lambda: sum(s["ready"] for s in t.status()) == N, deadline=300)
    time.sleep(2)
    probed = daemon_cpu(t, WINDOW_S)
    not_ready = sum(not s["ready"] for s in t.status())
    t.down()
    return {
        "kind": kind, "idle": idle, "probed": probed, "bare": bare,
        "bare_checks": done, "bare_failed": failed, "not_ready": not_ready,
    }


def graph_config(testkit, levels):
    width = N // levels
    lines = []
    for level in range(levels):
        for i in range(width):
            lines += [f"[services.l{level}n{i:03}]", f"command = [{quoted(testkit)}, \"ready\"]",
                      'ready = { log = "^READY$" }']
            if level > 0:
                a, b = f"l{level - 1}n{i:03}", f"l{level - 1}n{(i + 1) % width:03}"
                lines.append(f'depends_on = {{ {a} = "ready", {b} = "ready" }}')
            lines.append("")
    return "\n".join(lines)


def startup(tend, testkit, tmp, levels, rounds):
    times = []
    for r in range(rounds):
        start = time.monotonic()
        t = Tend(tend, Path(tmp) / f"graph-{levels}-{r}", graph_config(testkit, levels))
        wait_for("1,000 ready", lambda: sum(s["ready"] and s["state"] == "running" for s in t.status()) == N,
                 deadline=300)
        times.append(time.monotonic() - start)
        t.down()
    times.sort()
    return times[len(times) // 2], times


def main():
    tend, testkit, probe_loop = build()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"machine: {os.cpu_count()} CPUs, {os.uname().release}; window {WINDOW_S} s; {N} services")
    with tempfile.TemporaryDirectory(prefix="tend-probe-bench") as tmp:
        kinds = next((a.split("=", 1)[1].split(",") for a in sys.argv if a.startswith("--kinds=")),
                     ["http", "tcp", "exec"])
        for kind in kinds:
            r = probe_cost(tend, testkit, probe_loop, tmp, kind)
            extra = r["probed"] - r["idle"]
            per = N * WINDOW_S
            print(f"{kind:5} probes: daemon {r['probed'] / WINDOW_S:.3f} cores probed, "
                  f"{r['idle'] / WINDOW_S:.3f} idle -> {extra / WINDOW_S:.3f} cores for probes "
                  f"({extra / per * 1e6:.0f} us/probe); bare loop {r['bare'] / WINDOW_S:.3f} cores "
                  f"({r['bare'] / per * 1e6:.0f} us/probe, {r['bare_checks']} checks, {r['bare_failed']} failed); "
                  f"ratio {extra / r['bare']:.2f}x; not ready at the end: {r['not_ready']}", flush=True)
        if "--no-graph" in sys.argv:
            return
        rounds = 1 if QUICK else 3
        flat, flat_all = startup(tend, testkit, tmp, 1, rounds)
        deep, deep_all = startup(tend, testkit, tmp, 10, rounds)
        print(f"start-up, 1,000 ready: flat {flat:.2f} s {['%.2f' % x for x in flat_all]}, "
              f"10 levels {deep:.2f} s {['%.2f' % x for x in deep_all]}: {deep / flat:.2f}x the flat start")


if __name__ == "__main__":
    main()
