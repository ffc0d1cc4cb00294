#!/usr/bin/env python3
"""Process-supervision benchmarks: tend (through tend-run) against the floor
(a bare loop that spawns the same program and waits for it), measured in the
same run on the same machine. See BENCHMARKS.md for results and method.

Usage: python3 bench/process_bench.py [--quick] [--peers] [--restarts-only]
                                      [--rounds N] [--restarts-before DIR]...
       python3 bench/process_bench.py --memory [--before DIR]
       python3 bench/process_bench.py --memory-smoke
       python3 bench/process_bench.py --smoke [--debug] [--record]
       python3 bench/process_bench.py --scale [--sizes 1000,2000,5000,10000]
                                      [--bin-dir DIR] [--label NAME]
       python3 bench/process_bench.py --foreground [--bin-dir DIR --label NAME]...

--scale starts and stops N sleeping children (tend-run --replicas N, and
`tend up -d` with services of 250 replicas) beside the floor (a bare
posix_spawn loop, then SIGTERM and wait), alternating, and prints the
table (issue 26). --bin-dir takes tend, tend-run from DIR instead of
building (to compare two builds in one run: give --bin-dir twice with
--label twice).

--foreground measures `tend up` in the foreground copying a flooding
service's output (200 MB of numbered lines) to its standard output, a file
and a pseudo-terminal, against `flood | cat` to the same (issue 26, point 5);
it checks every line arrived once, in order, with its `name | ` prefix.

The restart rows run the floor, tend-run (with and without cgroups) and
`tend up` (one crashing service, `restart = "always"`, `backoff = "none"`,
journal on) one after another, each rate also as a share of the floor
measured just before it; --rounds N repeats that sequence N times, and
--restarts-before DIR adds DIR's tend-run and tend to every round.

--peers also runs runit, s6 (Debian packages) and supervisord (PyPI),
installing them if missing, with the same child program.

--memory measures the supervisor's anonymous memory (RssAnon, and PSS) with
1,000 and 2,000 idle `sleep` children, for `tend up -d` (one service per
child) and `tend-run --replicas N`; memory per child is the difference over
the 1,000 added. `--before DIR` measures the `tend` and `tend-run` in DIR too
(a build of another commit), alternately in the same run.

--memory-smoke is the CI-sized form: 250 and 500 children, failing when
memory per child is over twice the figure in bench/baseline.json.

--smoke is what CI runs: memory per child (250 and 500 children) and start
time per child (500 children, as a ratio to the posix_spawn floor run just
before it, so a loaded machine slows both), for `tend up -d` and
`tend-run`, failing when either is over twice its figure in
bench/baseline.json. --debug uses debug builds (CI's, already built by the
tests) against the debug figures; --record writes this run's figures
instead of checking them.

Every child is `tend-testkit`, a small static-ish Rust program that appends a
CLOCK_MONOTONIC stamp (ns) to a file, optionally sleeps, and exits; gaps are
computed from those stamps, so the supervisor's own clock is never trusted.
"""

import json
import os
import shutil
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
# --restarts-before DIR (repeatable): the tend and tend-run of another build,
# measured in the same rounds as this one's (named by the directory).
BEFORE = [(Path(sys.argv[i + 1]).name, Path(sys.argv[i + 1]))
          for i, a in enumerate(sys.argv) if a == "--restarts-before"]


def build(*more):
    packages = ["-p", "tend-run", "-p", "tend-testkit"] + [a for p in more for a in ("-p", p)]
    subprocess.run(["cargo", "build", "--release", "-q", *packages], cwd=ROOT, check=True)
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


def supervised_up(tend, testkit, seconds, child_ms, out, tmp, detached=False):
    """`tend up` in the foreground (journal on, as always) with one service
    that crashes at once, `restart = "always"`, no backoff, no start limit;
    `detached`: `tend up -d` (its keeper holding each process), then `tend
    down`."""
    directory = Path(tempfile.mkdtemp(dir=tmp, prefix="restarts-up-"))
    command = [str(testkit), "stamp", out, "--exit", "1"]
    if child_ms:
        command += ["--sleep", str(child_ms)]
    (directory / "tend.toml").write_text(
        "[supervisor]\nintensity = { max_restarts = 1000000000, period = \"1s\" }\n\n"
        "[services.crash]\n" f"command = {json.dumps(command)}\n"
        'restart = "always"\nbackoff = "none"\nstart_limit = "none"\n')
    if detached:
        subprocess.run([str(tend), "up", "-d"], cwd=directory, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        time.sleep(seconds)
        subprocess.run([str(tend), "down"], cwd=directory, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        return stamps(out)
    proc = subprocess.Popen([str(tend), "up"], cwd=directory, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(seconds)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    return stamps(out)


def restart_rows(tend_run, testkit, tmp, tend=None):
    """Each contender in turn, the floor first, per child duration; with
    --rounds N the whole sequence N times (alternating), rates per round."""
    seconds = 3 if QUICK else 10
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 1
    rows = []
    for child_ms, r in [(c, r) for c in (0, 200) for r in range(rounds)]:
        tag = f"{child_ms}-{r}"
        floor = floor_loop(testkit, seconds, child_ms, f"{tmp}/floor-{tag}")
        tend_rows = supervised(tend_run, testkit, seconds, child_ms, f"{tmp}/tend-{tag}")
        groups_only = supervised(tend_run, testkit, seconds, child_ms, f"{tmp}/pg-{tag}", cgroup=False)
        contenders = [
            ("floor: bare Rust spawn+wait loop", floor),
            ("tend-run --backoff 0 (cgroup per child)", tend_rows),
            ("tend-run --backoff 0, TEND_CGROUP=off (process group only)", groups_only),
        ]
        if tend is not None:
            contenders.append(('tend up (restart = "always", backoff = "none", journal on)',
                               supervised_up(tend, testkit, seconds, child_ms, f"{tmp}/up-{tag}", tmp)))
            contenders.append(("tend up -d (the same, with its keeper)",
                               supervised_up(tend, testkit, seconds, child_ms, f"{tmp}/upd-{tag}", tmp,
                                             detached=True)))
        for label, path in BEFORE:
            contenders.append((f"tend-run --backoff 0, {label}",
                               supervised(path / "tend-run", testkit, seconds, child_ms, f"{tmp}/b-{label}-{tag}")))
            if tend is not None:
                contenders.append((f"tend up, {label}",
                                   supervised_up(path / "tend", testkit, seconds, child_ms, f"{tmp}/bu-{label}-{tag}", tmp)))
        floor_rate = None
        for name, starts in contenders:
            if len(starts) < 3:
                rows.append((name, child_ms, "n/a", "n/a", "n/a"))
                continue
            span = (starts[-1] - starts[0]) / 1e9
            rate = (len(starts) - 1) / span
            floor_rate = floor_rate or rate
            gaps = gaps_ms(starts, child_ms)
            rows.append((name, child_ms, f"{rate:,.0f}/s ({rate / floor_rate:.0%})",
                         f"{statistics.median(gaps):.2f} ms", f"{percentile(gaps, 99):.2f} ms"))
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


# --- peers: runit, s6, supervisord, each configured for its smallest delay ---

def install_peers():
    """runit and s6 from Debian, supervisord from PyPI (skipped if present)."""
    if not shutil.which("runsv") or not shutil.which("s6-supervise"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "runit", "s6"], check=True,
                       stdout=subprocess.DEVNULL)
    if not shutil.which("supervisord"):
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "supervisor"], check=True)


def service_dir(root, name, command):
    d = Path(root) / name
    d.mkdir(parents=True, exist_ok=True)
    run = d / "run"
    run.write_text(f"#!/bin/sh\nexec {command}\n")
    run.chmod(0o755)
    return d


def supervisord_conf(root, programs, numprocs=1):
    conf = Path(root) / "supervisord.conf"
    lines = ["[supervisord]", "nodaemon=true", f"logfile={root}/supervisord.log", f"pidfile={root}/sd.pid",
             "loglevel=warn", ""]
    for name, command in programs:
        lines += [f"[program:{name}]", f"command={command}", "autorestart=true", "startsecs=0",
                  "startretries=1000000", "stopwaitsecs=10", "stdout_logfile=NONE", "stderr_logfile=NONE"]
        if numprocs > 1:
            lines += [f"numprocs={numprocs}", "process_name=%(program_name)s_%(process_num)d"]
        lines.append("")
    conf.write_text("\n".join(lines))
    return conf


def peer_start(kind, root, command, n=1):
    """Starts `n` copies of `command` under the peer; returns (process, stop)."""
    if kind == "runit":
        scan = Path(root) / "runit"
        for i in range(n):
            service_dir(scan, f"s{i}", command)
        proc = subprocess.Popen(["runsvdir", str(scan)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return proc, lambda: proc.send_signal(signal.SIGHUP)
    if kind == "s6":
        scan = Path(root) / "s6"
        for i in range(n):
            service_dir(scan, f"s{i}", command)
        proc = subprocess.Popen(["s6-svscan", "-c", str(max(n * 2, 1000)), str(scan)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return proc, lambda: subprocess.run(["s6-svscanctl", "-t", str(scan)])
    if kind == "supervisord":
        conf = supervisord_conf(root, [("s", command)], numprocs=n)
        proc = subprocess.Popen(["supervisord", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return proc, lambda: proc.send_signal(signal.SIGTERM)
    raise ValueError(kind)


def tree(pid):
    """pid and all its descendants."""
    kids = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            continue
        kids.setdefault(int(fields[1]), []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += kids.get(p, [])
    return out


def comm(pid):
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def peer_restart_rows(testkit, tmp):
    seconds = 3 if QUICK else 10
    rows = []
    for kind in ("runit", "s6", "supervisord"):
        for child_ms in (0, 200):
            root = Path(tmp) / f"{kind}-{child_ms}"
            root.mkdir()
            out = root / "stamps"
            command = f"{testkit} stamp {out} --exit 1" + (f" --sleep {child_ms}" if child_ms else "")
            proc, stop = peer_start(kind, root, command)
            time.sleep(seconds)
            stop()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            starts = stamps(out)
            if len(starts) < 3:
                rows.append((kind, child_ms, f"{len(starts)} runs", "n/a", "n/a"))
                continue
            rate = (len(starts) - 1) / ((starts[-1] - starts[0]) / 1e9)
            gaps = gaps_ms(starts, child_ms)
            rows.append((kind, child_ms, f"{rate:,.1f}/s", f"{statistics.median(gaps):.2f} ms",
                         f"{percentile(gaps, 99):.2f} ms"))
    return rows


def peer_thousand(kind, tmp):
    """1,000 sleep children under a peer: time to all running, PSS of the
    supervisor processes (not the children), idle ticks, stop time."""
    n = 1000
    root = Path(tmp) / f"{kind}-1000"
    root.mkdir()
    start = time.monotonic()
    proc, stop = peer_start(kind, root, "sleep 100000", n)
    def sleepers():
        return [p for p in tree(proc.pid) if comm(p) == "sleep"]
    deadline = start + 120
    while len(sleepers()) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    up = time.monotonic() - start
    time.sleep(1)
    supervisors = [p for p in tree(proc.pid) if comm(p) != "sleep"]
    pss = sum(pss_kib(p) for p in supervisors)
    idle_seconds = 5 if QUICK else 30
    before = sum(proc_stat(p) for p in supervisors)
    time.sleep(idle_seconds)
    ticks = sum(proc_stat(p) for p in supervisors if Path(f"/proc/{p}").exists()) - before
    stop_start = time.monotonic()
    stop()
    while sleepers() and time.monotonic() < stop_start + 120:
        time.sleep(0.01)
    stopped = time.monotonic() - stop_start
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    return kind, up, pss, ticks, idle_seconds, stopped


def peer_log_throughput(kind, testkit, tmp, lines):
    """The same flood under a peer's own log capture: runit's svlogd, s6's
    s6-log, supervisord's stdout_logfile. Time from start until the log holds
    every byte; then every line is checked."""
    root = Path(tmp) / f"{kind}-log"
    root.mkdir()
    logdir = root / "logs"
    logdir.mkdir()
    expected = lines * 40
    flood = f"{testkit} flood {lines} --width 39"
    # Flood once, then stay up so the supervisor does not flood again.
    command = f"sh -c '{flood}; exec sleep 100000'"
    if kind in ("runit", "s6"):
        scan = root / "scan"
        svc = service_dir(scan, "flood", command)
        logger = f"svlogd {logdir}" if kind == "runit" else f"s6-log n1 s4000000000 {logdir}"
        service_dir(svc, "log", logger)
        if kind == "runit":
            (logdir / "config").write_text("s4000000000\nn1\n")
        path = logdir / "current"
        start = time.monotonic()
        if kind == "runit":
            proc = subprocess.Popen(["runsvdir", str(scan)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            stop = lambda: proc.send_signal(signal.SIGHUP)
        else:
            proc = subprocess.Popen(["s6-svscan", str(scan)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            stop = lambda: subprocess.run(["s6-svscanctl", "-t", str(scan)])
    else:
        path = logdir / "flood.log"
        conf = Path(root) / "supervisord.conf"
        conf.write_text("\n".join([
            "[supervisord]", "nodaemon=true", f"logfile={root}/supervisord.log", f"pidfile={root}/sd.pid", "",
            "[program:flood]", f"command={command}", "autorestart=false", "startsecs=0",
            f"stdout_logfile={path}", "stdout_logfile_maxbytes=0", "stderr_logfile=NONE", "",
        ]))
        start = time.monotonic()
        proc = subprocess.Popen(["supervisord", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stop = lambda: proc.send_signal(signal.SIGTERM)
    deadline = start + 300
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_size >= expected:
            break
        time.sleep(0.005)
    elapsed = time.monotonic() - start
    stop()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    ok = False
    if path.exists():
        with open(path) as f:
            ok = all(int(line[:9]) == i for i, line in enumerate(f, 1))
    return kind, expected / 1e6 / elapsed, ok


# --- memory per child (issue 26) ---------------------------------------------

def anon_kib(pid):
    """(RssAnon from /proc/PID/status, Pss from smaps_rollup), in KiB."""
    anon = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            anon = int(line.split()[1])
    return anon, pss_kib(pid)


def wait_until(what, condition, deadline_s=300):
    deadline = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.02)


def settled(pid):
    """The memory once start-up is over: sampled until two readings half a
    second apart agree within 1 %."""
    last = anon_kib(pid)
    for _ in range(20):
        time.sleep(0.5)
        now = anon_kib(pid)
        if abs(now[0] - last[0]) <= last[0] / 100:
            return now
        last = now
    return last


def memory_tend_run(tend_run, n):
    proc = subprocess.Popen([str(tend_run), "--replicas", str(n), "--", "sleep", "100000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(f"{n} children of tend-run", lambda: len(children(proc.pid)) >= n)
        return settled(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)


def memory_tend_up(tend, n, tmp):
    """`tend up -d` on a config of `n` services, each one `sleep`."""
    directory = Path(tempfile.mkdtemp(dir=tmp, prefix=f"up-{n}-"))
    lines = []
    for i in range(n):
        lines += [f"[services.s{i:05}]", 'command = ["sleep", "100000"]', ""]
    (directory / "tend.toml").write_text("\n".join(lines))
    up = subprocess.run([str(tend), "up", "-d"], cwd=directory, capture_output=True, text=True,
                        timeout=300)
    if up.returncode != 0:
        raise SystemExit(f"tend up -d failed: {up.stderr}")
    pid = int(up.stdout.split("(pid ", 1)[1].split(")", 1)[0])
    try:
        wait_until(f"{n} children of tend", lambda: len(children(pid)) >= n)
        return settled(pid)
    finally:
        subprocess.run([str(tend), "down"], cwd=directory, capture_output=True, timeout=300)
        wait_until("the daemon to exit", lambda: not Path(f"/proc/{pid}").exists() or
                   Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].startswith("Z"), 120)


def memory_rows(programs, sizes, tmp):
    """Each program at each size, alternating; per child is the difference
    between the sizes over the children added."""
    small, large = sizes
    rows = []
    for name, kind, path in programs:
        measure = (lambda n: memory_tend_run(path, n)) if kind == "tend-run" else \
                  (lambda n: memory_tend_up(path, n, tmp))
        (a_anon, a_pss), (b_anon, b_pss) = measure(small), measure(large)
        per_anon = (b_anon - a_anon) / (large - small)
        per_pss = (b_pss - a_pss) / (large - small)
        rows.append((name, kind, a_anon, b_anon, per_anon, a_pss, b_pss, per_pss))
    return rows


def print_memory(rows, sizes):
    small, large = sizes
    print(f"| program | RssAnon {small:,} | RssAnon {large:,} | anon per child | "
          f"PSS {small:,} | PSS {large:,} | PSS per child |")
    print("|---|---|---|---|---|---|---|")
    for name, _, a_anon, b_anon, per_anon, a_pss, b_pss, per_pss in rows:
        print(f"| {name} | {a_anon / 1024:.1f} MiB | {b_anon / 1024:.1f} MiB | {per_anon:.2f} KiB | "
              f"{a_pss / 1024:.1f} MiB | {b_pss / 1024:.1f} MiB | {per_pss:.2f} KiB |")


def memory_main(smoke):
    tend_run, _ = build("tend-cli")
    tend = TARGET / "tend"
    programs = [("tend up -d", "tend", tend), ("tend-run", "tend-run", tend_run)]
    if "--before" in sys.argv:
        before = Path(sys.argv[sys.argv.index("--before") + 1])
        programs = [("tend up -d, before", "tend", before / "tend"), programs[0],
                    ("tend-run, before", "tend-run", before / "tend-run"), programs[1]]
    sizes = (250, 500) if smoke else (1000, 2000)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"machine: {os.cpu_count()} CPUs, {os.uname().release}\n")
        rows = memory_rows(programs, sizes, tmp)
    print_memory(rows, sizes)
    if not smoke:
        return
    baseline = json.loads((ROOT / "bench" / "baseline.json").read_text())["memory_per_child_kib"]
    failed = False
    for name, kind, _, _, per_anon, *_ in rows:
        limit = 2 * baseline[kind]
        verdict = "ok" if per_anon <= limit else "REGRESSION"
        failed |= per_anon > limit
        print(f"{name}: {per_anon:.2f} KiB per child, recorded {baseline[kind]} KiB, limit {limit} KiB: {verdict}")
    if failed:
        raise SystemExit("memory per child more than doubled (bench/baseline.json)")


def smoke_main():
    """CI's smoke: memory and start time per child against the recorded
    figures (twice them fails)."""
    debug = "--debug" in sys.argv
    profile = "debug" if debug else "release"
    flags = [] if debug else ["--release"]
    subprocess.run(["cargo", "build", "-q", "--locked", *flags, "-p", "tend-cli", "-p", "tend-run",
                    "-p", "tend-testkit"], cwd=ROOT, check=True)
    target = TARGET.parent / profile
    tend, tend_run = target / "tend", target / "tend-run"
    nofile_to_hard()
    sizes = (250, 500)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"machine: {os.cpu_count()} CPUs, {os.uname().release}, {profile} build, "
              f"load {os.getloadavg()[0]:.1f}\n")
        rows = memory_rows([("tend up -d", "tend", tend), ("tend-run", "tend-run", tend_run)], sizes, tmp)
        print_memory(rows, sizes)
        memory = {kind: per_anon for _, kind, _, _, per_anon, *_ in rows}
        n = sizes[1]
        start = {}
        print(f"\n| {n} children | up | floor | per child vs floor |\n|---|---|---|---|")
        for kind, run in (("tend-run", lambda m: scale_tend_run(tend_run, n, m)),
                          ("tend", lambda m: scale_tend_up(tend, n, m, tmp))):
            floor_up, _, _ = scale_floor(n, new_mark())
            up, count, _ = run(new_mark())
            if count < n:
                raise SystemExit(f"{kind}: {count} of {n} children started")
            start[kind] = up / floor_up
            print(f"| {kind} | {up:.2f} s | {floor_up:.2f} s | {start[kind]:.2f}x |")
    path = ROOT / "bench" / "baseline.json"
    recorded = json.loads(path.read_text())
    if "--record" in sys.argv:
        recorded.setdefault("smoke", {})[profile] = {
            "memory_per_child_kib": {k: round(v, 2) for k, v in memory.items()},
            "start_vs_floor": {k: round(v, 2) for k, v in start.items()},
        }
        path.write_text(json.dumps(recorded, indent=2) + "\n")
        print(f"\nrecorded in {path}")
        return
    baseline = recorded["smoke"][profile]
    failed = []
    for figure, measured in (("memory_per_child_kib", memory), ("start_vs_floor", start)):
        for kind, value in measured.items():
            limit = 2 * baseline[figure][kind]
            verdict = "ok" if value <= limit else "REGRESSION"
            print(f"{kind} {figure}: {value:.2f}, recorded {baseline[figure][kind]}, "
                  f"limit {limit:.2f}: {verdict}")
            if value > limit:
                failed.append(f"{kind} {figure}")
    if failed:
        raise SystemExit(f"more than doubled against bench/baseline.json: {', '.join(failed)}")


def main():
    if "--smoke" in sys.argv:
        smoke_main()
        return
    if "--memory" in sys.argv or "--memory-smoke" in sys.argv:
        memory_main("--memory-smoke" in sys.argv)
        return
    tend_run, testkit = build("tend-cli")
    with tempfile.TemporaryDirectory() as tmp:
        print(f"machine: {os.cpu_count()} CPUs, {os.uname().release}; quick={QUICK}; "
              f"load {os.getloadavg()[0]:.1f}\n")
        print("| contender | child runs | restarts/s (of the floor) | gap p50 | gap p99 |")
        print("|---|---|---|---|---|")
        for name, child_ms, rate, p50, p99 in restart_rows(tend_run, testkit, tmp, TARGET / "tend"):
            print(f"| {name} | {child_ms} ms | {rate} | {p50} | {p99} |")
        with_peers = "--peers" in sys.argv
        if with_peers:
            install_peers()
            for name, child_ms, rate, p50, p99 in peer_restart_rows(testkit, tmp):
                print(f"| {name} | {child_ms} ms | {rate} | {p50} | {p99} |")
        if "--restarts-only" in sys.argv:
            return
        n, up, pss, ticks, idle_s, stop = thousand_sleepers(tend_run)
        print(f"\n| {n} sleep children | all running | supervisor PSS | CPU ticks idle {idle_s} s | stop all |")
        print("|---|---|---|---|---|")
        print(f"| tend-run | {up:.2f} s | {pss / 1024:.1f} MiB | {ticks} | {stop:.2f} s |")
        if with_peers:
            for kind in ("runit", "s6", "supervisord"):
                kind, up, pss, ticks, idle_s, stopped = peer_thousand(kind, tmp)
                print(f"| {kind} | {up:.2f} s | {pss / 1024:.1f} MiB | {ticks} | {stopped:.2f} s |")
        size, cat_rate, tend_rate, ok = log_throughput(tend_run, testkit, tmp)
        print(f"\n| log capture, {size:.0f} MB flood | MB/s | vs cat | every line once, in order |")
        print("|---|---|---|---|")
        print(f"| flood \\| cat > file | {cat_rate:.0f} | 100 % | - |")
        print(f"| tend-run --log | {tend_rate:.0f} | {100 * tend_rate / cat_rate:.0f} % | {ok} |")
        if with_peers:
            lines = 1_000_000 if QUICK else 5_000_000
            for kind in ("runit", "s6", "supervisord"):
                kind, rate, ok = peer_log_throughput(kind, testkit, tmp, lines)
                print(f"| {kind} | {rate:.0f} | {100 * rate / cat_rate:.0f} % | {ok} |")


# --- start and stop to 10,000 (issue 26) ---

def children_of(pid):
    """The pids of `pid`'s children (every thread's): one small file per
    thread, not a scan of /proc."""
    found = []
    try:
        for task in os.scandir(f"/proc/{pid}/task"):
            try:
                with open(f"{task.path}/children") as f:
                    found.extend(int(c) for c in f.read().split())
            except OSError:
                pass
    except OSError:
        pass
    return found


def carrying(pids, mark):
    """Those of `pids` that are live `sleep MARK` processes (exec'd)."""
    want = b"sleep\0" + mark.encode() + b"\0"
    found = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if f.read() == want:
                    found.append(pid)
        except OSError:
            pass
    return found


def wait_count(mark, n, deadline_s, start, supervisor):
    """Waits until `n` processes carry `mark` (or the deadline); the seconds
    taken since `start`, the count reached and their pids.

    Polls only the supervisor's children (`supervisor()` gives its pid, or
    None while not known): a scan of every process's command line each 50 ms
    costs O(N) opens and competes with the supervisor for the 2 cores at
    10,000. The command lines are read only once as many children as wanted
    exist (a child not yet exec'd is not counted), and at the deadline.

    Gives up early when the supervisor ended, or when the count has not
    grown for STALLED_S (a limit reached: it would wait out the deadline);
    the count is then the most children seen at once."""
    count, pids, most, grew = 0, [], 0, time.monotonic()
    while True:
        pid = supervisor()
        children = children_of(pid) if pid else []
        if len(children) > most:
            most, grew = len(children), time.monotonic()
        late = time.monotonic() - start >= deadline_s
        stalled = most > 0 and (not pid or time.monotonic() - grew >= STALLED_S)
        if len(children) >= n or late or stalled:
            pids = carrying(children, mark)
            count = len(pids)
            if count >= n or late or stalled:
                count = max(count, most) if count < n else count
                break
        time.sleep(0.05)
    return time.monotonic() - start, count, pids


# No new child for this long: the start is stuck at a limit.
STALLED_S = 30


def wait_none(pids, mark, deadline_s):
    """Waits until none of `pids` is a live `sleep MARK`; only those still
    left are looked at."""
    start = time.monotonic()
    while pids and time.monotonic() - start < deadline_s:
        pids = carrying(pids, mark)
        if pids:
            time.sleep(0.02)
    return time.monotonic() - start


def scale_floor(n, mark):
    """The floor: posix_spawn N sleeps, then SIGTERM each and wait for all."""
    start = time.monotonic()
    pids = [os.posix_spawnp("sleep", ["sleep", mark], os.environ) for _ in range(n)]
    up = time.monotonic() - start
    start = time.monotonic()
    for pid in pids:
        os.kill(pid, signal.SIGTERM)
    for pid in pids:
        os.waitpid(pid, 0)
    return up, n, time.monotonic() - start


def scale_tend_run(tend_run, n, mark):
    start = time.monotonic()
    proc = subprocess.Popen([str(tend_run), "--replicas", str(n), "--", "sleep", mark],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    up, count, pids = wait_count(mark, n, 120 + n / 20, start,
                                 lambda: proc.pid if proc.poll() is None else None)
    if count < n:
        up = float("nan")
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    stop = time.monotonic() - start
    wait_none(pids, mark, 60)
    return up, count, stop


def scale_tend_up(tend, n, mark, tmp):
    root = Path(tmp) / f"up-{mark}"
    root.mkdir()
    per = 250
    services = "".join(
        f'[services.s{i}]\ncommand = ["sleep", "{mark}"]\nreplicas = {min(per, n - i * per)}\n\n'
        for i in range((n + per - 1) // per))
    (root / "tend.toml").write_text(services)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEND_")}
    start = time.monotonic()
    subprocess.run([str(tend), "up", "-d"], cwd=root, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def daemon():
        try:
            return json.loads((root / ".tend" / "daemon.json").read_text())["pid"]
        except (OSError, ValueError, KeyError):
            return None
    up, count, pids = wait_count(mark, n, 120 + n / 20, start, daemon)
    if count < n:
        up = float("nan")
    start = time.monotonic()
    subprocess.run([str(tend), "down"], cwd=root, env=env, timeout=600,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_none(pids, mark, 300)
    stop = time.monotonic() - start
    return up, count, stop


def nofile_to_hard():
    """Raises the soft descriptor limit to the hard one (as the issue's
    runs did); the hard limit."""
    import resource
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def new_mark():
    """A `sleep` argument no other run uses: a run's children are those
    carrying it."""
    return f"{time.monotonic_ns() % 10**8 / 1000:.3f}"


def bin_dirs(*packages):
    """The builds to compare: each --bin-dir with its --label (the
    directory's name where none is given), or this tree's release build
    of `packages`, built now."""
    dirs = [Path(sys.argv[i + 1]) for i, a in enumerate(sys.argv) if a == "--bin-dir"]
    labels = [sys.argv[i + 1] for i, a in enumerate(sys.argv) if a == "--label"]
    if not dirs:
        subprocess.run(["cargo", "build", "--release", "-q", *(a for p in packages for a in ("-p", p))],
                       cwd=ROOT, check=True)
        dirs = [TARGET]
    return dirs, labels + [str(d) for d in dirs[len(labels):]]


def scale_main():
    hard = nofile_to_hard()
    sizes = [1000, 2000, 5000, 10000]
    if "--sizes" in sys.argv:
        sizes = [int(x) for x in sys.argv[sys.argv.index("--sizes") + 1].split(",")]
    dirs, labels = bin_dirs("tend-run", "tend-cli")
    print(f"machine: {os.cpu_count()} CPUs, {os.uname().release}, "
          f"nofile {hard}, load {os.getloadavg()[0]:.1f}\n")
    print("| children | contender | all up | up / floor | running | stop | stop / floor |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            rows = []
            for label, d in zip(labels, dirs):
                for name, run in (
                        (f"tend-run ({label})", lambda m: scale_tend_run(d / "tend-run", n, m)),
                        (f"tend up -d ({label})", lambda m: scale_tend_up(d / "tend", n, m, tmp))):
                    if not (d / name.split(" (")[0].split()[0]).exists():
                        continue  # a build without that program
                    floor = scale_floor(n, new_mark())
                    rows.append(("floor (posix_spawn loop)", floor, floor))
                    mark = new_mark()
                    rows.append((name, run(mark), floor))
            for name, (up, count, stop), floor in rows:
                print(f"| {n:,} | {name} | {up:.2f} s | {up / floor[0]:.1f}x | {count:,} "
                      f"| {stop:.2f} s | {stop / floor[2]:.1f}x |", flush=True)


# --- the foreground copy (issue 26, point 5) ---

def pty_drain(master, out_path, done, last):
    """Reads the pseudo-terminal's master into a file until `done` is set
    and nothing more comes (the terminal an operator watches); `last[0]`
    is the time the last bytes arrived."""
    import select
    with open(out_path, "wb") as out:
        while True:
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                if done.is_set():
                    return
                continue
            try:
                chunk = os.read(master, 1 << 16)
            except OSError:
                return
            if not chunk:
                return
            last[0] = time.monotonic()
            out.write(chunk)


def foreground_run(command, expected_lines, out_path, to_pty, cwd=None, env=None, log=None):
    """Runs `command` with its standard output on a file or a pty; the
    seconds until the last of its output arrived. With `log` (`tend up`,
    which stays up once its service has ended): it is stopped once `log`
    holds the last line and its output has been quiet for a second (a
    terminal may be shown fewer lines than the log has)."""
    import threading
    done = threading.Event()
    last = [time.monotonic()]
    reader = None
    if to_pty:
        master, slave = os.openpty()
        reader = threading.Thread(target=pty_drain, args=(master, out_path, done, last))
        reader.start()
        stdout = slave
    else:
        stdout = open(out_path, "wb")
    start = time.monotonic()
    proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=stdout, stderr=subprocess.DEVNULL,
                            shell=isinstance(command, str))
    if log:
        final = f"{expected_lines:09d}".encode()
        size = -1
        while time.monotonic() - start < 600:
            try:
                with open(log, "rb") as f:
                    f.seek(max(0, os.path.getsize(log) - 4096))
                    complete = final in f.read()
            except FileNotFoundError:
                complete = False
            if not to_pty and os.path.getsize(out_path) != size:
                size = os.path.getsize(out_path)
                last[0] = time.monotonic()
            if complete and time.monotonic() - last[0] > 1.0:
                break
            time.sleep(0.01)
        took = last[0] - start
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    else:
        proc.wait(timeout=600)
        took = time.monotonic() - start
    if to_pty:
        os.close(slave)
        done.set()
        reader.join()
        os.close(master)
    else:
        stdout.close()
    return took


def lines_whole(path, expected, prefix):
    """The lines shown: every numbered line once, in order, after
    `prefix` (colour codes a terminal gets removed first), or counted in a
    "lines of output not shown" note; "all" when none was left out."""
    import re
    strip = re.compile(rb"\x1b\[[0-9;]*m")
    note = re.compile(rb"\((\d+) lines of output not shown")
    shown, left_out, n = 0, 0, 0
    with open(path, "rb") as f:
        for raw in f:
            line = strip.sub(b"", raw).replace(b"\r\n", b"\n")
            dropped = note.search(line)
            if dropped:
                left_out += int(dropped.group(1))
                continue
            if not line.startswith(prefix):
                continue
            number = int(line[len(prefix):len(prefix) + 9])
            if number <= n:
                return "False (a line twice or out of order)"
            n = number
            shown += 1
    if shown + left_out != expected:
        return f"False ({shown} shown + {left_out} noted of {expected})"
    return "True" if not left_out else f"True ({left_out:,} noted as not shown)"


def foreground_main():
    dirs, labels = bin_dirs("tend-cli", "tend-testkit")
    testkit = dirs[0] / "tend-testkit"
    lines = 1_000_000 if QUICK else 5_000_000
    size_mb = lines * 40 / 1e6
    print(f"machine: {os.cpu_count()} CPUs, {os.uname().release}, load {os.getloadavg()[0]:.1f}\n")
    print(f"| {size_mb:.0f} MB of lines to | contender | MB/s | vs cat | every line once, in order |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "project"
        root.mkdir()
        (root / "tend.toml").write_text(
            f'[services.flood]\ncommand = ["{testkit}", "flood", "{lines}", "--width", "39"]\n'
            'restart = "never"\n')
        env = {k: v for k, v in os.environ.items() if not k.startswith("TEND_")}
        for to_pty, where in ((False, "a file"), (True, "a terminal (pty)")):
            out = f"{tmp}/cat.out"
            cat_s = foreground_run(f"{testkit} flood {lines} --width 39 | cat", lines, out, to_pty)
            cat_ok = lines_whole(out, lines, b"")
            print(f"| {where} | flood \\| cat | {size_mb / cat_s:.0f} | 100 % | {cat_ok} |", flush=True)
            for i, (label, d) in enumerate(zip(labels, dirs)):
                out = f"{tmp}/tend-{i}.out"
                shutil.rmtree(root / ".tend", ignore_errors=True)
                tend_s = foreground_run([str(d / "tend"), "up"], lines, out, to_pty, cwd=root, env=env,
                                        log=root / ".tend" / "logs" / "flood.log")
                ok = lines_whole(out, lines, b"flood | ")
                print(f"| {where} | tend up ({label}) | {size_mb / tend_s:.0f} | "
                      f"{100 * cat_s / tend_s:.0f} % | {ok} |", flush=True)


if __name__ == "__main__":
    if "--foreground" in sys.argv:
        foreground_main()
    elif "--scale" in sys.argv:
        scale_main()
    else:
        main()
