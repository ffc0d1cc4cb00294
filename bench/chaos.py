#!/usr/bin/env python3
"""Chaos: a 50-instance `tend up` under random faults, then an audit.

Usage: python3 bench/chaos.py [--quick] [--debug] [--duration=S] [--rate=N] [--seed=N]
                              [--upgrade-every=S] [--keep=DIR]

(--keep=DIR runs in DIR and leaves the logs and journal there.)

The tree: 10 single services and 5 replicated ones (x2) under the root
(one_for_one), a one_for_all group of 10, a rest_for_one group of 10, and a
one_for_one group of 5 replicated services (x2: supervisors three deep).
Every instance runs `tend-testkit chatter` (a numbered line every 50 ms),
half of them with a grandchild that chatters too.

The driver injects N faults a second for S seconds (default 100/s for 600 s;
--quick: 100/s for 30 s), each drawn at random: SIGKILL, SIGTERM or SIGSEGV
to a service's process, SIGKILL to a grandchild, an output flood (SIGUSR1:
1,000 lines at once), or an API command (restart, stop then start, start,
reload with one service's environment changed) sent on the control socket.
Every U seconds (default 30; --quick: 10) it also asks for `tend upgrade`
(POST /v1/upgrade: the daemon re-executes itself and keeps every process).

Then the audit, each a pass/fail line and a figure:
- zombies: none left under tend;
- accounting: every process of the run is a current service process or its
  child; none is left after `tend down`;
- logs: every line of every process (main and grandchild), numbered, none
  lost, none torn, none twice;
- journal: `tend journal verify` passes; every start has its exit (or, for
  a process kept by an upgrade, its `upgraded` row); every process that
  wrote a line is named (by pid) in the journal;
- settled: once the faults stop (and what was stopped is started), all 50
  instances run again;
- memory: the daemon's RSS after the run within 1.5x (+8 MiB) of its RSS
  after the warm-up;
- otp: OTP's rules replayed against the journal: every supervisor's
  restarts fit its intensity window and each give-up is the restart that
  did not; every abnormal exit is followed by its restart (or its
  supervisor giving up or stopping);
- truncated journal: `journal.db` truncated to nothing after the run, the
  next `tend up` moves it aside and begins a new chain whose first row
  says so; `journal verify` passes and names it; all 50 start journaled.
- daemon kills: a fresh `tend up -d` (the keeper above the daemon) of the
  same 50 chatty instances; 10 rounds (more with --daemon-kills=N) at
  random moments, each a SIGKILL to the daemon, or (every third, from the
  second) to its keeper, while SIGKILL and SIGTERM go to random
  one_for_one services' processes: after a daemon kill a new daemon
  answers, after a keeper kill the same daemon answers and a new keeper
  holds all 50, each time with every instance running and every process
  it did not fault the same one; then
  every line of every process once and in order, `journal verify` passes,
  `tend down` leaves nothing;
- full disk: a fresh run whose state directory is a 16 MiB tmpfs, filled
  while 50 chatty instances run: for 3 s no instance dies or is
  restarted (same pids: no SIGPIPE, no kill), the daemon answers; once
  space is freed the journal takes rows again, `tend down` stops all and
  `journal verify` passes. (Needs root to mount; skipped otherwise.)

Exit status 0 when every check passes. Release binaries unless --debug
(CI uses the debug ones its tests built).
"""

import http.client
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARGS = dict(a[2:].split("=", 1) if "=" in a else (a[2:], "1") for a in sys.argv[1:] if a.startswith("--"))
QUICK = "quick" in ARGS
DEBUG = "debug" in ARGS
DURATION = float(ARGS.get("duration", 30 if QUICK else 600))
RATE = float(ARGS.get("rate", 100))
UPGRADE_EVERY = float(ARGS.get("upgrade-every", 10 if QUICK else 30))
SEED = int(ARGS.get("seed", time.time_ns() % 1_000_000))
MARK = f"chaos-{os.getpid()}"
LINE = re.compile(r"^(main|g) (\d+) (\d+)$")


def build():
    profile = [] if DEBUG else ["--release"]
    subprocess.run(["cargo", "build", "-q", *profile, "-p", "tend-cli", "-p", "tend-testkit"], cwd=ROOT, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / ("debug" if DEBUG else "release")
    return target / "tend", target / "tend-testkit"


def config(testkit, changed=None, generation=0):
    def service(name, grandchild, extra=""):
        argv = [str(testkit), "chatter", "50"] + (["--grandchild"] if grandchild else [])
        env = f'CHAOS_MARK = "{MARK}"'
        if name == changed:
            env += f', CHAOS_GENERATION = "{generation}"'
        return (f"[services.{name}]\ncommand = {json.dumps(argv)}\nenv = {{ {env} }}\n"
                f'backoff = {{ initial = "10ms", max = "200ms" }}\nstop = {{ timeout = "2s" }}\n'
                # Faults within a second of a start are failed starts; the
                # audit wants every abnormal exit restarted.
                'start_limit = "none"\n'
                f'logs = {{ max_size = "1GiB" }}\n{extra}\n')
    many = '{ max_restarts = 1000000, period = "1s" }'
    text = f"[supervisor]\nintensity = {many}\n\n"
    for i in range(10):
        text += service(f"single{i}", i % 2 == 0)
    for i in range(5):
        text += service(f"pair{i}", i % 2 == 1, "replicas = 2\n")
    for strategy, prefix, replicas in [("one_for_all", "ofa", 1), ("rest_for_one", "rfo", 1), ("one_for_one", "deep", 2)]:
        count = 10 if replicas == 1 else 5
        names = [f"{prefix}{i}" for i in range(count)]
        text += f'[groups.{prefix}]\nstrategy = "{strategy}"\nintensity = {many}\nservices = {json.dumps(names)}\n\n'
        for i, name in enumerate(names):
            text += service(name, i % 2 == 0, f"replicas = {replicas}\n" if replicas > 1 else "")
    return text


class Api:
    """HTTP/1.1 on the control socket, one connection per request."""

    def __init__(self, path):
        self.path = str(path)

    def request(self, method, path, body=None):
        class Conn(http.client.HTTPConnection):
            def connect(conn):
                conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                conn.sock.settimeout(30)
                conn.sock.connect(self.path)
        conn = Conn("tend")
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, data

    def status(self):
        code, data = self.request("GET", "/v1/services")
        return json.loads(data) if code == 200 else []


def proc_stat(pid):
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1])  # state, ppid


def marked():
    """Live (non-zombie) processes of this run, by their environment."""
    needle = f"CHAOS_MARK={MARK}".encode()
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            env = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if needle in env.split(b"\0"):
            stat = proc_stat(entry)
            if stat and stat[0] != "Z":
                found[int(entry)] = stat[1]
    return found


def children_of(pid):
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def zombies_under(daemon):
    """Zombies whose parent is the daemon or one of its descendants."""
    tree, todo = set(), [daemon]
    while todo:
        pid = todo.pop()
        if pid in tree:
            continue
        tree.add(pid)
        todo.extend(children_of(pid))
    return [pid for pid in tree if (proc_stat(pid) or ("", 0))[0] == "Z"]


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def drive(api, testkit, config_file, rng, deadline, daemon, rss):
    counts = defaultdict(int)
    # API commands go through a pool, so a slow answer (a stop waits for
    # the process to end) does not slow the faults down.
    pool = ThreadPoolExecutor(max_workers=16)

    def send(method, path, what):
        counts[what] += 1
        def done(future):
            if future.exception() is not None:
                counts["api error"] += 1
        pool.submit(api.request, method, path).add_done_callback(done)

    stopped = {}  # name -> when to start it again
    generation = 0
    # The targets, refreshed every 0.2 s off the fault loop (a status
    # answer takes a while under load), with the daemon's RSS.
    seen = {"services": api.status()}

    def watch():
        while time.monotonic() < deadline:
            time.sleep(0.2)
            try:
                seen["services"] = api.status()
            except OSError:
                pass
            rss.append(rss_kib(daemon))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    next_fault = time.monotonic()
    next_upgrade = next_fault + UPGRADE_EVERY
    while time.monotonic() < deadline:
        now = time.monotonic()
        if now >= next_upgrade:
            code, _ = api.request("POST", "/v1/upgrade")
            counts["api upgrade" if code == 202 else f"api upgrade refused ({code})"] += 1
            next_upgrade += UPGRADE_EVERY
        services = seen["services"]
        for name, when in list(stopped.items()):
            if now >= when:
                send("POST", f"/v1/services/{name}/start", "api start (after stop)")
                del stopped[name]
        if now < next_fault:
            time.sleep(min(next_fault - now, 0.01))
            continue
        next_fault += 1 / RATE
        running = [s for s in services if s.get("pid")]
        if not running:
            continue
        target = rng.choice(running)
        name, pid = target["name"], target["pid"]
        roll = rng.random()
        try:
            if roll < 0.30:
                os.kill(pid, 9); counts["SIGKILL"] += 1
            elif roll < 0.45:
                os.kill(pid, 15); counts["SIGTERM"] += 1
            elif roll < 0.55:
                os.kill(pid, 11); counts["SIGSEGV"] += 1
            elif roll < 0.70:
                # A grandchild of any service that has one (half have).
                kids = children_of(pid) or [k for s in rng.sample(running, len(running))
                                            for k in children_of(s["pid"])][:1]
                if kids:
                    os.kill(rng.choice(kids), 9); counts["grandchild SIGKILL"] += 1
                else:
                    counts["raced (already gone)"] += 1
            elif roll < 0.80:
                os.kill(pid, 10); counts["flood"] += 1
            else:
                action = rng.random()
                if action < 0.5:
                    send("POST", f"/v1/services/{name}/restart", "api restart")
                elif action < 0.7 and name not in stopped:
                    send("POST", f"/v1/services/{name}/stop", "api stop")
                    stopped[name] = now + rng.uniform(0.2, 2.0)
                elif action < 0.9:
                    send("POST", f"/v1/services/{name}/start", "api start")
                else:
                    generation += 1
                    changed = rng.choice(services)["name"].split(".")[0]
                    config_file.write_text(config(testkit, changed, generation))
                    send("POST", "/v1/reload", "api reload")
        except ProcessLookupError:
            counts["raced (already gone)"] += 1
    watcher.join()
    pool.shutdown(wait=True)
    for name in stopped:
        api.request("POST", f"/v1/services/{name}/start")
    return counts


def otp_replay(entries, intensity_of):
    """Replays OTP's rules against the journal. Returns (checked, mismatches).

    - Intensity (OTP's add_restart): each supervisor's `restarting` rows are
      the restarts it allowed, a `gave_up` (intensity-reached) the one it
      refused; replayed through a window of (max, period) per supervisor
      (a fresh one when the supervisor starts again, or after an upgrade),
      each allowed restart must fit and each refusal must not. Rows within
      50 ms of the window's edge are not judged (the journal stamps in ms
      and after the decision).
    - Restart type: every abnormal exit of a (permanent) service is followed
      by its restart, or by its supervisor giving up or stopping.
    """
    from collections import deque
    from datetime import datetime
    def ms(e):
        return datetime.fromisoformat(e["at"].replace("Z", "+00:00")).timestamp() * 1000
    windows, checked, wrong = {}, 0, []
    for e in entries:
        kind = e["kind"]
        if kind == "upgraded":
            windows = {}
        elif kind == "started" and e.get("pid") is None:
            windows.pop(f'{e["supervisor"]}/{e["service"]}', None)
        elif kind == "restarting" or (kind == "gave_up" and e.get("reason") == "intensity-reached"):
            path = e["supervisor"]
            limit, period = intensity_of(path)
            window = windows.setdefault(path, deque())
            t = ms(e)
            window.append(t)
            strict = sum(1 for r in window if t - r <= period - 50)
            loose = sum(1 for r in window if t - r <= period + 50)
            while window and t - window[0] > period + 50:
                window.popleft()
            if (strict > limit) != (loose > limit):
                continue
            checked += 1
            exceeded = strict > limit
            if exceeded != (kind == "gave_up"):
                wrong.append(f'{path}: {kind} at {e["at"]} with {strict} restarts within {period:g} ms (max {limit})')
    open_exits = {}
    for i, e in enumerate(entries):
        kind, key = e["kind"], (e["supervisor"], e.get("service"))
        if kind == "exited" and e["exit"]["class"] == "abnormal":
            open_exits[key] = e
        elif kind == "restarting":
            if open_exits.pop(key, None) is not None:
                checked += 1
        elif kind in ("gave_up", "supervisor_stopped"):
            for k in [k for k in open_exits if k[0] == e["supervisor"] or k[0].startswith(e["supervisor"] + "/")]:
                open_exits.pop(k)
                checked += 1
        elif kind in ("removed", "terminated"):
            open_exits.pop(key, None)
        elif kind == "started" and key in open_exits:
            wrong.append(f"{key}: an abnormal exit at {open_exits.pop(key)['at']} with no restart decided before its next start")
    wrong += [f"{k}: an abnormal exit at {e['at']} never restarted" for k, e in open_exits.items()]
    return checked, wrong


def intensity_of(path):
    """(max restarts, period in ms) of the supervisor at `path`: a replicated
    service's own supervisor has tend's default (100 in 60 s); the root and
    the groups the config's (1,000,000 in 1 s)."""
    parts = path.split("/")
    if parts[-1].startswith("pair") or (len(parts) == 3 and parts[1] == "deep"):
        return 100, 60_000
    return 1_000_000, 1_000


def audit_logs(logs):
    """Each process's numbered lines: none lost, torn or twice. A pid may
    come back (78,000 processes in ten minutes wrap the pid space): a line
    numbered 1 begins a new process under the same pid."""
    runs = defaultdict(list)  # (instance, tag, pid) -> [[numbers of one process], ...]
    torn, lines = [], 0
    for log in sorted(logs.glob("*.log")):
        if log.name == "_hooks.log":
            continue
        for line in log.read_text(errors="replace").splitlines():
            lines += 1
            m = LINE.match(line)
            if not m:
                torn.append(f"{log.name}: {line[:80]!r}")
                continue
            key, number = (log.stem, m[1], int(m[2])), int(m[3])
            if number == 1 or not runs[key]:
                runs[key].append([])
            runs[key][-1].append(number)
    lost = twice = processes = 0
    for numbered in runs.values():
        for numbers in numbered:
            processes += 1
            have = set(numbers)
            lost += sum(1 for n in range(1, max(numbers) + 1) if n not in have)
            twice += len(numbers) - len(have)
    return lines, processes, lost, twice, torn, {(inst, pid) for (inst, tag, pid) in runs if tag == "main"}


def main():
    if "help" in ARGS or "-h" in sys.argv[1:]:
        print(__doc__)
        return 0
    tend, testkit = build()
    rng = random.Random(SEED)
    results = []

    def check(name, ok, figure):
        results.append(ok)
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {figure}", flush=True)

    with tempfile.TemporaryDirectory(prefix="tend-chaos-") as tmp:
        tmp = Path(ARGS["keep"]) if "keep" in ARGS else Path(tmp)
        tmp.mkdir(parents=True, exist_ok=True)
        config_file = tmp / "tend.toml"
        config_file.write_text(config(testkit))
        up = subprocess.Popen([str(tend), "up"], cwd=tmp, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=open(tmp / "up.err", "w"))
        api = Api(tmp / ".tend" / "tend.sock")
        start = time.monotonic()
        while True:
            try:
                if sum(1 for s in api.status() if s.get("pid")) == 50:
                    break
            except OSError:
                pass
            assert time.monotonic() - start < 60, "50 instances did not start"
            time.sleep(0.1)
        time.sleep(2)
        warm = rss_kib(up.pid)
        rss = []
        print(f"chaos: seed {SEED}, {RATE:g} faults/s for {DURATION:g} s, 50 instances, daemon pid {up.pid}, "
              f"RSS {warm} KiB after warm-up", flush=True)
        counts = drive(api, testkit, config_file, rng, time.monotonic() + DURATION, up.pid, rss)
        print("faults: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())), flush=True)

        # Settle: every instance running again.
        config_file.write_text(config(testkit))
        api.request("POST", "/v1/reload")
        settle = time.monotonic()
        while time.monotonic() - settle < 30:
            status = api.status()
            if sum(1 for s in status if s.get("pid")) == 50:
                break
            for s in status:
                if not s.get("pid") and s["state"] in ("shutdown", "failed", "completed"):
                    api.request("POST", f"/v1/services/{s['name']}/start")
            time.sleep(0.2)
        time.sleep(1)
        status = api.status()
        final = rss_kib(up.pid)
        zombies = [z for z in zombies_under(up.pid) if z]
        time.sleep(1)
        zombies = [z for z in zombies_under(up.pid) if z in zombies]
        check("zombies", not zombies, f"{len(zombies)} under tend")
        current = {s["pid"] for s in status if s.get("pid")}
        procs = marked()
        strays = [p for p, parent in procs.items() if p not in current and parent not in current]
        time.sleep(1)
        procs = marked()
        strays = [p for p in strays if p in procs and p not in current and procs[p] not in current]
        resting = sorted(f'{s["name"]} {s["state"]}' for s in status if not s.get("pid"))
        check("accounting", not strays, f"{len(procs)} processes, {len(current)} services running "
              f"{resting[:5]}, {len(strays)} outside the tree {strays[:5]}")
        check("settled", len(current) == 50,
              f"{len(current)} of 50 instances running after the faults stopped {resting[:5]}")
        check("memory", final <= warm * 1.5 + 8192,
              f"RSS {warm} KiB after warm-up, {max(rss + [final])} KiB at most, {final} KiB after")

        down = subprocess.run([str(tend), "down"], cwd=tmp, capture_output=True, text=True)
        up.wait(timeout=120)
        time.sleep(0.5)
        left = marked()
        check("down", down.returncode == 0 and up.returncode == 0 and not left,
              f"tend down {down.returncode}, tend up exited {up.returncode}, {len(left)} processes left")

        lines, processes, lost, twice, torn, wrote = audit_logs(tmp / ".tend" / "logs")
        check("logs", lost == 0 and twice == 0 and not torn,
              f"{lines} lines from {processes} processes: {lost} lost, {twice} twice, {len(torn)} torn {torn[:3]}")

        verify = subprocess.run([str(tend), "journal", "verify"], cwd=tmp, capture_output=True, text=True)
        events = subprocess.run([str(tend), "events", "--json", "--since", "1d"], cwd=tmp,
                                capture_output=True, text=True).stdout.splitlines()
        entries = [json.loads(e) for e in events]
        # A service replaced by a reload numbers its incarnations afresh,
        # and so does every service after an upgrade: count starts and ends
        # per (upgrade epoch, supervisor, service, generation). A process an
        # upgrade kept ends its epoch's last start (the new image journals
        # its start again, with the same pid).
        starts, ends, journaled = defaultdict(int), defaultdict(int), set()
        lagged = [e for e in entries if e["kind"] == "command" and e.get("command") == "journal-lagged"]
        # Supervisors (started with no pid) are not handed over: the new
        # image starts them afresh, so an upgrade ends them all.
        epoch, last_start, supervisors, upgrades = 0, {}, set(), 0
        for e in entries:
            if e["kind"] == "upgraded":
                for name in e["kept"]:
                    if name in last_start:
                        ends[last_start[name]] += 1
                for key in supervisors:
                    ends[key] = starts[key]
                epoch, last_start, supervisors, upgrades = epoch + 1, {}, set(), upgrades + 1
                continue
            key = (epoch, e["supervisor"], e.get("service"), e.get("generation"))
            if e["kind"] == "started":
                starts[key] += 1
                last_start[e.get("service")] = key
                if e.get("pid") is None:
                    supervisors.add(key)
                journaled.add((e.get("service"), e.get("pid")))
            elif e["kind"] in ("exited", "start_failed"):
                ends[key] += 1
                if e.get("pid"):
                    # One stopped before it was confirmed started is named
                    # by its exit.
                    journaled.add((e.get("service"), e.get("pid")))
        unended = [k for k, n in starts.items() if ends[k] < n]
        unjournaled = [w for w in wrote if w not in journaled]
        total = sum(starts.values())
        check("journal", verify.returncode == 0 and not unended and not unjournaled and not lagged,
              f"{verify.stdout.strip()}; {total} starts, {len(unended)} without an exit, "
              f"{len(unjournaled)} processes that wrote but are not in it {unjournaled[:3]}, "
              f"{len(lagged)} lag records, {upgrades} upgrades")
        replayed, wrong = otp_replay(entries, intensity_of)
        gave_up = sum(1 for e in entries if e["kind"] == "gave_up")
        check("otp", replayed > 0 and not wrong,
              f"{replayed} restart decisions replayed against OTP's rules ({gave_up} give-ups): "
              f"{len(wrong)} differ {wrong[:3]}")
        print(f"chaos: {sum(counts.values())} faults, {total} incarnations", flush=True)

        # A truncated journal: the next start moves it aside, begins a new
        # chain that says so, and journals on.
        journal = tmp / ".tend" / "journal.db"
        old_rows = len(entries)
        with open(journal, "r+b") as f:
            f.truncate(0)
        up = subprocess.Popen([str(tend), "up"], cwd=tmp, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=open(tmp / "up2.err", "w"))
        start = time.monotonic()
        while time.monotonic() - start < 60:
            try:
                if sum(1 for s in api.status() if s.get("pid")) == 50:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        down = subprocess.run([str(tend), "down"], cwd=tmp, capture_output=True, text=True)
        up.wait(timeout=120)
        verify = subprocess.run([str(tend), "journal", "verify"], cwd=tmp, capture_output=True, text=True)
        after = [json.loads(l) for l in subprocess.run(
            [str(tend), "events", "--json", "--since", "100d"], cwd=tmp,
            capture_output=True, text=True).stdout.splitlines()]
        first = after[0] if after else {}
        check("truncated journal",
              verify.returncode == 0 and "this chain began after" in verify.stdout
              and first.get("kind") == "journal_corrupt"
              and sum(1 for e in after if e["kind"] == "started") >= 50,
              f"{old_rows} rows truncated away; {verify.stdout.strip()[:160]}; "
              f"{len(after)} rows in the new chain")

        daemon_kills(tend, testkit, tmp, rng, check)
        full_disk(tend, testkit, tmp, check)
    return 0 if all(results) else 1


def keeper_of(daemon):
    """The keeper of `daemon`: its parent, or a child it started (its
    first keeper killed)."""
    def is_keeper(pid):
        try:
            return b"--keeper" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
    try:
        parent = int(Path(f"/proc/{daemon}/stat").read_text().rsplit(")", 1)[1].split()[1])
        if is_keeper(parent):
            return parent
        for task in Path(f"/proc/{daemon}/task").iterdir():
            for child in (task / "children").read_text().split():
                if is_keeper(int(child)):
                    return int(child)
    except (OSError, ValueError, IndexError):
        pass
    return None


def pidfds(pid):
    """How many pidfds `pid` holds (a keeper: its daemon's and one a process)."""
    try:
        return sum(1 for fd in Path(f"/proc/{pid}/fd").iterdir()
                   if "[pidfd]" in os.readlink(fd))
    except OSError:
        return 0


def daemon_kills(tend, testkit, tmp, rng, check):
    """The daemon-kills phase: see the module's doc."""
    root = tmp / "kills"
    root.mkdir()
    (root / "tend.toml").write_text(config(testkit))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEND_")}
    up = subprocess.run([str(tend), "up", "-d"], cwd=root, env=env, capture_output=True, text=True)
    api = Api(root / ".tend" / "tend.sock")

    def daemon():
        try:
            code, data = api.request("GET", "/v1/daemon")
            return json.loads(data)["pid"] if code == 200 else None
        except (OSError, ValueError, KeyError):
            return None

    def running(deadline=60):
        start = time.monotonic()
        while time.monotonic() - start < deadline:
            try:
                now = {s["name"]: s["pid"] for s in api.status()
                       if s.get("pid") and s["state"] == "running"}
                if len(now) == 50:
                    return now
            except OSError:
                pass
            time.sleep(0.1)
        return None

    before = running()
    kills, kept, faulted, problems = int(ARGS.get("daemon-kills", 10)), 0, set(), []
    keeper_kills = 0
    for round in range(kills):
        if before is None:
            problems.append(f"round {round}: not all 50 running")
            break
        old = daemon()
        time.sleep(rng.uniform(0, 0.5))
        # A fault or two to services meanwhile: their ends are not missed.
        # (To those under one_for_one: a fault in a one_for_all or
        # rest_for_one group restarts its siblings too, by design.)
        alone = sorted(n for n in before if n.startswith(("single", "pair")))
        for _ in range(rng.randint(0, 2)):
            name = rng.choice(alone)
            try:
                os.kill(before[name], rng.choice([9, 15]))
                faulted.add(name)
            except OSError:
                pass
        if round % 3 == 1:
            # The keeper instead: the daemon starts a new one, which must
            # hold every process again before the next daemon kill.
            keeper = keeper_of(old)
            if keeper is None:
                problems.append(f"round {round}: the daemon has no keeper")
                break
            os.kill(keeper, 9)
            start = time.monotonic()
            while time.monotonic() - start < 60:
                new = keeper_of(old)
                if new not in (None, keeper) and pidfds(new) > 50:
                    break
                time.sleep(0.05)
            else:
                problems.append(f"round {round}: no new keeper holds the 50")
                break
            keeper_kills += 1
            if daemon() != old:
                problems.append(f"round {round}: the daemon changed with its keeper")
        else:
            os.kill(old, 9)
            start = time.monotonic()
            while time.monotonic() - start < 60 and daemon() in (None, old):
                time.sleep(0.05)
        after = running()
        if after is None:
            problems.append(f"round {round}: not all 50 running again")
            break
        moved = sorted(n for n in before if n not in faulted and after.get(n) != before[n])
        if moved:
            problems.append(f"round {round}: {moved[:3]} changed process")
        kept += sum(1 for n in before if n not in faulted and after.get(n) == before[n])
        faulted.clear()
        before = after
    down = subprocess.run([str(tend), "down"], cwd=root, capture_output=True, text=True)
    time.sleep(0.5)
    left = list(marked())
    lines, processes, lost, twice, torn, _ = audit_logs(root / ".tend" / "logs")
    verify = subprocess.run([str(tend), "journal", "verify"], cwd=root, capture_output=True, text=True)
    check("daemon kills",
          up.returncode == 0 and not problems and down.returncode == 0 and not left
          and verify.returncode == 0 and lost == 0 and twice == 0 and not torn,
          f"{kills - keeper_kills} kills of the daemon and {keeper_kills} of its keeper: "
          f"{kept} processes kept across them, {problems[:2]}; "
          f"{lines} lines from {processes} processes: {lost} lost, {twice} twice, {len(torn)} torn "
          f"{torn[:2]}; tend down {down.returncode}, {len(left)} left; {verify.stdout.strip()[:100]}")


def full_disk(tend, testkit, tmp, check):
    """The full-disk phase: see the module's doc."""
    root = tmp / "full"
    state = root / ".tend"
    state.mkdir(parents=True)
    # 16 MiB: the 50 chatty services' logs and the journal fill it on their
    # own in about a minute and a half, well after the start (4 MiB was
    # full before the filler once, on a slow start in CI).
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", str(state)],
                             capture_output=True).returncode == 0
    if not mounted:
        print("SKIP  full disk: mounting a tmpfs needs root", flush=True)
        return
    # Made before tend starts, so that a disk tend filled first still has
    # a filler to write (and free) later.
    filler = state / "filler"
    filler.touch()
    up = None
    try:
        (root / "tend.toml").write_text(config(testkit))
        up = subprocess.Popen([str(tend), "up"], cwd=root, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=open(tmp / "up3.err", "w"))
        api = Api(state / "tend.sock")
        start = time.monotonic()
        before = {}
        while time.monotonic() - start < 60:
            try:
                before = {s["name"]: s["pid"] for s in api.status() if s.get("pid")}
                if len(before) == 50:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        used_before = shutil.disk_usage(state).used
        # Unbuffered: a buffered file would raise ENOSPC again when it
        # closes, flushing what the full disk refused.
        with open(filler, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
            except OSError:
                pass
        time.sleep(3)
        try:
            during = {s["name"]: s["pid"] for s in api.status() if s.get("pid")}
            answered = True
        except OSError:
            during, answered = {}, False
        changed = sorted(n for n in before if during.get(n) != before[n])
        filler.unlink()
        # The journal takes rows again: a command's row shows up.
        api.request("POST", "/v1/services/single0/restart")
        resumed = False
        start = time.monotonic()
        while time.monotonic() - start < 30 and not resumed:
            out = subprocess.run([str(tend), "events", "--json", "--since", "1h"], cwd=root,
                                 capture_output=True, text=True).stdout
            resumed = any(json.loads(l).get("kind") == "command" for l in out.splitlines())
            time.sleep(0.5)
        down = subprocess.run([str(tend), "down"], cwd=root, capture_output=True, text=True)
        up.wait(timeout=120)
        verify = subprocess.run([str(tend), "journal", "verify"], cwd=root, capture_output=True, text=True)
        check("full disk",
              len(before) == 50 and answered and not changed and resumed
              and down.returncode == 0 and verify.returncode == 0,
              f"{len(before)} running before; daemon answered while full: {answered}; "
              f"{len(changed)} died or restarted while full {changed[:3]}; journal resumed: {resumed}; "
              f"tend down {down.returncode}; {verify.stdout.strip()[:120]}; "
              f"tend's files took {used_before // 1024} KiB before the filler")
    finally:
        # A phase that failed half-way leaves no tend running behind it.
        if up is not None and up.poll() is None:
            up.terminate()
            try:
                up.wait(timeout=120)
            except subprocess.TimeoutExpired:
                up.kill()
        subprocess.run(["umount", "-l", str(state)], capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
