#!/usr/bin/env python3
"""Benchmarks of the `tend` program (daemon + CLI), each beside a baseline
measured in the same run on the same machine. See BENCHMARKS.md.

Usage: python3 bench/program_bench.py [--quick] [--no-peers]

1. `tend status --json` with 1,000 services, beside `supervisorctl status`
   (supervisord, PyPI) and `pm2 jlist` (pm2, npm) over the same 1,000
   `sleep` processes: wall time of the whole command, as an operator (or a
   script) pays it, process start-up included.
2. `tend reload` of a 1,000-service config where one service changed: wall
   time, and whether the other 999 kept their pids; beside `supervisorctl
   update` doing the same for supervisord.
3. Crash-restart rate of `tend up` (journal on, every event written) as a
   share of `tend-run`'s, with the daemon's CPU and memory during the storm;
   then kill -9 of the daemon and a check that the journal verifies and
   holds a `started` row for every start it committed.
"""

import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUICK = "--quick" in sys.argv
PEERS = "--no-peers" not in sys.argv
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"
N = 1000
ROUNDS = 10 if QUICK else 30
STORM_S = 3 if QUICK else 10
TICK = os.sysconf("SC_CLK_TCK")


def build():
    subprocess.run(
        ["cargo", "build", "--release", "-q", "-p", "tend-cli", "-p", "tend-run", "-p", "tend-testkit"],
        cwd=ROOT, check=True,
    )
    return TARGET / "tend", TARGET / "tend-run", TARGET / "tend-testkit"


def wait_for(what, condition, deadline=120):
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > deadline:
            raise TimeoutError(what)
        time.sleep(0.1)
    return time.monotonic() - start


def timed(args, rounds=ROUNDS, **kw):
    """Median and p90 wall time (ms) of running `args` to completion."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))]


def cpu_ticks(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def memory_kib(pid):
    """(RSS, PSS) in KiB."""
    rss = pss = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1])
        elif line.startswith("Pss:"):
            pss = int(line.split()[1])
    return rss, pss


def quoted(s):
    return json.dumps(str(s))


# --- tend -------------------------------------------------------------------

def tend_config(services, extra=""):
    lines = [extra]
    for name, argv in services:
        lines += [f"[services.{name}]", "command = [" + ", ".join(quoted(a) for a in argv) + "]", ""]
    return "\n".join(lines)


class Tend:
    def __init__(self, tend, directory, config):
        self.tend = tend
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "tend.toml").write_text(config)
        self.proc = subprocess.Popen([str(tend), "up"], cwd=self.dir, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def run(self, *args):
        return subprocess.run([str(self.tend), *args], cwd=self.dir, capture_output=True, text=True)

    def status(self):
        out = self.run("status", "--json")
        return json.loads(out.stdout) if out.returncode == 0 else []

    def pids(self):
        return {s["name"]: s["pid"] for s in self.status()}

    def down(self):
        self.run("down")
        self.proc.wait(timeout=120)


def sleepers(n):
    return [(f"s{i:04}", ["sleep", "100000"]) for i in range(n)]


def tend_status_and_reload(tend, tmp):
    t = Tend(tend, Path(tmp) / "tend-1000", tend_config(sleepers(N)))
    up = wait_for("1,000 running", lambda: sum(s["state"] == "running" for s in t.status()) == N)
    status = timed([str(tend), "status", "--json"], cwd=t.dir)
    table = timed([str(tend), "status"], cwd=t.dir)
    rss, pss = memory_kib(t.proc.pid)

    # Reload, one service changed each time (its argument toggles).
    reloads, kept = [], []
    for round_ in range(5 if QUICK else 10):
        before = t.pids()
        services = sleepers(N)
        services[500] = ("s0500", ["sleep", str(100001 + round_)])
        (t.dir / "tend.toml").write_text(tend_config(services))
        start = time.perf_counter()
        out = t.run("reload")
        reloads.append((time.perf_counter() - start) * 1000)
        assert out.returncode == 0 and "changed:   s0500" in out.stdout, out.stdout + out.stderr
        wait_for("s0500 running again", lambda: any(
            s["name"] == "s0500" and s["state"] == "running" and s["pid"] != before["s0500"] for s in t.status()))
        after = t.pids()
        kept.append(sum(1 for name, pid in before.items() if name != "s0500" and after.get(name) == pid))
    t.down()
    return {"up_s": up, "status": status, "table": table, "rss": rss, "pss": pss,
            "reload": (statistics.median(reloads), max(reloads)), "kept": (min(kept), max(kept))}


# --- supervisord ---------------------------------------------------------------

def supervisord_conf(root, programs):
    root = Path(root)
    lines = ["[supervisord]", "nodaemon=true", f"logfile={root}/supervisord.log", f"pidfile={root}/sd.pid",
             "loglevel=warn", "minfds=4096", "",
             "[unix_http_server]", f"file={root}/sd.sock", "",
             "[rpcinterface:supervisor]",
             "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface", "",
             "[supervisorctl]", f"serverurl=unix://{root}/sd.sock", ""]
    for name, argv in programs:
        lines += [f"[program:{name}]", "command=" + " ".join(argv), "autorestart=true", "startsecs=0",
                  "stdout_logfile=NONE", "stderr_logfile=NONE", ""]
    conf = root / "supervisord.conf"
    conf.write_text("\n".join(lines))
    return conf


def supervisord_pids(conf):
    out = subprocess.run(["supervisorctl", "-c", str(conf), "status"], capture_output=True, text=True).stdout
    pids = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[1] == "RUNNING":
            pids[parts[0]] = int(parts[3].rstrip(","))
    return pids


def supervisord_status_and_update(tmp):
    root = Path(tmp) / "supervisord"
    root.mkdir()
    conf = supervisord_conf(root, sleepers(N))
    proc = subprocess.Popen(["supervisord", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        up = wait_for("1,000 RUNNING", lambda: len(supervisord_pids(conf)) == N, deadline=300)
        status = timed(["supervisorctl", "-c", str(conf), "status"])
        rss, pss = memory_kib(proc.pid)
        updates, kept = [], []
        for round_ in range(3 if QUICK else 5):
            before = supervisord_pids(conf)
            services = sleepers(N)
            services[500] = ("s0500", ["sleep", str(100001 + round_)])
            supervisord_conf(root, services)
            start = time.perf_counter()
            subprocess.run(["supervisorctl", "-c", str(conf), "update"], capture_output=True, check=True)
            updates.append((time.perf_counter() - start) * 1000)
            wait_for("s0500 back", lambda: supervisord_pids(conf).get("s0500", before["s0500"]) != before["s0500"])
            after = supervisord_pids(conf)
            kept.append(sum(1 for n, p in before.items() if n != "s0500" and after.get(n) == p))
        return {"up_s": up, "status": status, "rss": rss, "pss": pss,
                "reload": (statistics.median(updates), max(updates)), "kept": (min(kept), max(kept))}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=300)


# --- pm2 -----------------------------------------------------------------------

def pm2_status(tmp):
    home = Path(tmp) / "pm2"
    home.mkdir()
    env = dict(os.environ, PM2_HOME=str(home))
    apps = [{"name": name, "script": argv[0], "args": argv[1:], "interpreter": "none",
             "autorestart": True, "out_file": "/dev/null", "error_file": "/dev/null"}
            for name, argv in sleepers(N)]
    eco = home / "ecosystem.config.js"
    eco.write_text("module.exports = " + json.dumps({"apps": apps}) + ";\n")

    def online():
        out = subprocess.run(["pm2", "jlist"], capture_output=True, text=True, env=env).stdout
        try:
            return sum(a["pm2_env"]["status"] == "online" for a in json.loads(out[out.index("["):]))
        except ValueError:
            return 0
    try:
        start = time.monotonic()
        subprocess.run(["pm2", "start", str(eco)], capture_output=True, env=env, check=True)
        wait_for("1,000 online", lambda: online() == N, deadline=300)
        up = time.monotonic() - start
        status = timed(["pm2", "jlist"], env=env)
        pid = int((home / "pm2.pid").read_text())
        rss, pss = memory_kib(pid)
        return {"up_s": up, "status": status, "rss": rss, "pss": pss}
    finally:
        subprocess.run(["pm2", "kill"], capture_output=True, env=env)


# --- the crash storm ---------------------------------------------------------------

def stamps(path):
    try:
        return len(Path(path).read_text().split())
    except FileNotFoundError:
        return 0


def storm_tend_run(tend_run, testkit, tmp, i):
    out = Path(tmp) / f"run-{i}.stamps"
    proc = subprocess.Popen([str(tend_run), "--backoff", "0", "--", str(testkit), "stamp", str(out), "--exit", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # past start-up: the rate is measured over the steady storm
    ticks, n0, start = cpu_ticks(proc.pid), stamps(out), time.monotonic()
    time.sleep(STORM_S)
    rss, pss = memory_kib(proc.pid)
    n1, ticks, elapsed = stamps(out), cpu_ticks(proc.pid) - ticks, time.monotonic() - start
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    return {"rate": (n1 - n0) / elapsed, "cpu": ticks / TICK / elapsed, "rss": rss, "pss": pss}


def storm_tend_up(tend, testkit, tmp, i):
    out = Path(tmp) / f"up-{i}.stamps"
    config = tend_config([("crash", [testkit, "stamp", out, "--exit", "1"])],
                         '[supervisor]\nintensity = { max_restarts = 1000000, period = "1s" }\n')
    config = config.replace('"1"]\n', '"1"]\nbackoff = "none"\n')
    t = Tend(tend, Path(tmp) / f"storm-{i}", config)
    time.sleep(0.5)
    ticks, n0, start = cpu_ticks(t.proc.pid), stamps(out), time.monotonic()
    time.sleep(STORM_S)
    rss, pss = memory_kib(t.proc.pid)
    n1, ticks, elapsed = stamps(out), cpu_ticks(t.proc.pid) - ticks, time.monotonic() - start
    t.proc.send_signal(signal.SIGKILL)
    t.proc.wait(timeout=30)
    verify = t.run("journal", "verify")
    db = sqlite3.connect(t.dir / ".tend" / "journal.db")
    started = db.execute("SELECT count(*) FROM events WHERE kind = 'started'").fetchone()[0]
    exited = db.execute("SELECT count(*) FROM events WHERE kind = 'exited'").fetchone()[0]
    db.close()
    return {"rate": (n1 - n0) / elapsed, "cpu": ticks / TICK / elapsed, "rss": rss, "pss": pss,
            "verify": verify.stdout.strip(), "started": started, "exited": exited, "stamps": stamps(out)}


def main():
    tend, tend_run, testkit = build()
    with tempfile.TemporaryDirectory() as tmp:
        print(f"machine: {os.cpu_count()} CPUs, {os.uname().release}; quick={QUICK}; rounds={ROUNDS}\n")

        print("## Crash storm: tend up (journal on) vs tend-run, alternating\n")
        print("| contender | restarts/s | CPU (cores) | RSS | PSS | journal after kill -9 |")
        print("|---|---|---|---|---|---|")
        runs, ups = [], []
        for i in range(2):
            r = storm_tend_run(tend_run, testkit, tmp, i)
            runs.append(r)
            print(f"| tend-run --backoff 0 | {r['rate']:.0f} | {r['cpu']:.2f} | {r['rss'] / 1024:.1f} MiB "
                  f"| {r['pss'] / 1024:.1f} MiB | - |", flush=True)
            u = storm_tend_up(tend, testkit, tmp, i)
            ups.append(u)
            print(f"| tend up, backoff none | {u['rate']:.0f} | {u['cpu']:.2f} | {u['rss'] / 1024:.1f} MiB "
                  f"| {u['pss'] / 1024:.1f} MiB | {u['verify']}; {u['started']} started rows for "
                  f"{u['stamps']} starts, {u['exited']} exited |", flush=True)
        ratio = statistics.mean(u["rate"] for u in ups) / statistics.mean(r["rate"] for r in runs)
        print(f"\ntend up / tend-run: {100 * ratio:.0f} %\n")

        print("## 1,000 services: status and reload\n")
        t = tend_status_and_reload(tend, tmp)
        rows = [("tend status --json", t["status"]), ("tend status (table)", t["table"])]
        peers = {}
        if PEERS:
            peers["supervisord"] = supervisord_status_and_update(tmp)
            rows.append(("supervisorctl status", peers["supervisord"]["status"]))
            peers["pm2"] = pm2_status(tmp)
            rows.append(("pm2 jlist", peers["pm2"]["status"]))
        print("| command, 1,000 services | median | p90 |")
        print("|---|---|---|")
        for name, (median, p90) in rows:
            print(f"| {name} | {median:.1f} ms | {p90:.1f} ms |")
        if peers:
            faster = min(p["status"][0] for p in peers.values())
            print(f"\nfaster peer / tend status --json: {faster / t['status'][0]:.1f}x\n")
        print("| daemon with 1,000 services | all running after | daemon RSS | daemon PSS |")
        print("|---|---|---|---|")
        print(f"| tend | {t['up_s']:.2f} s | {t['rss'] / 1024:.1f} MiB | {t['pss'] / 1024:.1f} MiB |")
        for name, p in peers.items():
            print(f"| {name} | {p['up_s']:.2f} s | {p['rss'] / 1024:.1f} MiB | {p['pss'] / 1024:.1f} MiB |")
        print("\n| reload, one of 1,000 changed | median | max | others' pids kept |")
        print("|---|---|---|---|")
        print(f"| tend reload | {t['reload'][0]:.1f} ms | {t['reload'][1]:.1f} ms | {t['kept'][0]}–{t['kept'][1]} of 999 |")
        if "supervisord" in peers:
            s = peers["supervisord"]
            print(f"| supervisorctl update | {s['reload'][0]:.1f} ms | {s['reload'][1]:.1f} ms "
                  f"| {s['kept'][0]}–{s['kept'][1]} of 999 |")


if __name__ == "__main__":
    if PEERS and not (shutil.which("supervisord") and shutil.which("pm2")):
        sys.exit("supervisord and pm2 are needed: pip install supervisor; npm install -g pm2 (or --no-peers)")
    main()
