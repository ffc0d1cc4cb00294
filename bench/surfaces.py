#!/usr/bin/env python3
"""What the live views cost with many services: CPU of `tend top`, of the
dashboard's event stream (GET /v1/watch) and of the daemon serving them,
against baselines measured in the same run.

    python3 bench/surfaces.py [--services 1000] [--seconds 60]

Builds the release binary, runs N `sleep` services under `tend up`, then,
one phase at a time, each for --seconds:

  idle       the daemon alone (no viewer)
  watch      one /v1/watch stream (1 s interval, usage measured), read by
             curl: the dashboard's stream without the browser
  poll       baseline: GET /v1/services?usage=true once a second, what a
             page that reloads its status (supervisord's) makes the daemon do
  top        `tend top --interval 1s` in a 200x60 tmux terminal
  procps     baseline: procps `top -b -d 1` over the same machine
  browser    the dashboard open in headless chromium (playwright-core)
  blank      baseline: the same chromium on an empty page

CPU is utime + stime from /proc (children and, for chromium, every process
of its tree), divided by the phase's wall time: 100% is one core.
"""

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEND = ROOT / "target" / "release" / "tend"
TICK = os.sysconf("SC_CLK_TCK")
BROWSER_DIR = ROOT / "crates" / "tend-cli" / "tests" / "browser"


class Unix(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("tend", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def get(sock, path):
    c = Unix(sock)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def cpu_of(pid):
    """utime + stime of a process, in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def tree_of(pid):
    """pid and all its descendants."""
    children = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def tree_cpu(pid):
    return sum(cpu_of(p) for p in tree_of(pid))


def build():
    subprocess.run(["cargo", "build", "--release", "-q", "--bin", "tend"], cwd=ROOT, check=True)


TOKEN = "surfaces-benchmark-token"


def config(n, port):
    groups = 10
    per = n // groups
    text = "[supervisor]\nshutdown_timeout = \"60s\"\n\n"
    text += f'[api]\nlisten = "127.0.0.1:{port}"\ntoken = "{TOKEN}"\n\n'
    names = []
    for g in range(groups):
        text += f'[services.s{g}]\nshell = "exec sleep 100000"\nreplicas = {per}\n\n'
        names.append(f"s{g}")
    text += "[groups.all]\nservices = [" + ", ".join(f'"{s}"' for s in names[:5]) + "]\n"
    return text


def measure(label, daemon, seconds, viewer=None, note=""):
    """CPU of the daemon and of `viewer` (a pid, whose tree is counted)
    over `seconds`."""
    d0 = cpu_of(daemon)
    v0 = tree_cpu(viewer) if viewer else 0.0
    t0 = time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - t0
    d = (cpu_of(daemon) - d0) / wall * 100
    v = ((tree_cpu(viewer) - v0) / wall * 100) if viewer else None
    print(f"  {label:8} daemon {d:6.2f}%  viewer {'-' if v is None else f'{v:6.2f}%'}  {note}", flush=True)
    return {"phase": label, "daemon_pct": d, "viewer_pct": v, "note": note}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--phases", default="idle,watch,poll,top,procps,browser,blank",
                        help="which phases, comma-separated")
    args = parser.parse_args()
    build()
    work = Path(tempfile.mkdtemp(prefix="tend-surfaces-"))
    port = free_port()
    (work / "tend.toml").write_text(config(args.services, port))
    env = {k: v for k, v in os.environ.items() if k not in ("TEND_CONFIG", "TEND_STATE_DIR")}
    up = subprocess.Popen([str(TEND), "up"], cwd=work, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock = str(work / ".tend" / "tend.sock")
    results = []
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                status, body = get(sock, "/v1/services")
                services = json.loads(body)
                if status == 200 and sum(s["state"] == "running" for s in services) == args.services:
                    break
            except (OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                sys.exit("the services did not all start")
            time.sleep(0.2)
        print(f"{args.services} services running under pid {up.pid}; {args.seconds:.0f} s per phase")
        time.sleep(5)  # let the start settle

        phases = set(args.phases.split(","))
        if "idle" in phases:
            results.append(measure("idle", up.pid, args.seconds))
        if "watch" in phases:
            watch_phase(sock, up.pid, args.seconds, results)
        if "poll" in phases:
            poll_phase(sock, up.pid, args.seconds, results)
        if "top" in phases:
            top_phase(work, up.pid, args.seconds, results)
        if "procps" in phases:
            procps_phase(up.pid, args.seconds, results)
        if "browser" in phases and not args.no_browser:
            browser_phase(port, up.pid, args.seconds, results)
        if "blank" in phases and not args.no_browser:
            browser_phase(port, up.pid, args.seconds, results, blank=True)
    finally:
        subprocess.run([str(TEND), "down"], cwd=work, env=env, stdout=subprocess.DEVNULL)
        up.wait()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=1))


def watch_phase(sock, daemon, seconds, results):
    """The stream, as the dashboard gets it, read by curl."""
    curl = subprocess.Popen(["curl", "-sN", "--unix-socket", sock,
                             "http://tend/v1/watch?interval=1s"],
                            stdout=subprocess.PIPE)
    got = {"bytes": 0}

    def drain():
        while True:
            chunk = curl.stdout.read1(65536)
            if not chunk:
                return
            got["bytes"] += len(chunk)
    threading.Thread(target=drain, daemon=True).start()
    time.sleep(2)  # past the snapshot
    first = got["bytes"]
    r = measure("watch", daemon, seconds, curl.pid)
    r["bytes_per_s"] = (got["bytes"] - first) / seconds
    r["snapshot_bytes"] = first
    print(f"           stream: snapshot {first} bytes, then {r['bytes_per_s']:.0f} bytes/s")
    curl.terminate()
    curl.wait()
    results.append(r)


def poll_phase(sock, daemon, seconds, results):
    """Baseline: polling the full status with usage once a second."""
    stop = threading.Event()
    polled = {"bytes": 0, "n": 0}

    def poll():
        while not stop.is_set():
            t = time.monotonic()
            _, body = get(sock, "/v1/services?usage=true")
            polled["bytes"] += len(body)
            polled["n"] += 1
            stop.wait(max(0.0, 1.0 - (time.monotonic() - t)))
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    r = measure("poll", daemon, seconds)
    stop.set()
    poller.join()
    r["bytes_per_s"] = polled["bytes"] / seconds
    print(f"           polling: {polled['n']} answers, {r['bytes_per_s']:.0f} bytes/s")
    results.append(r)


def top_phase(work, daemon, seconds, results):
    """tend top in a real terminal, idle and with a key every 100 ms."""
    tmux = shutil.which("tmux")
    if not tmux:
        print("  (no tmux: top phases skipped)")
        return
    server = f"surfaces-{os.getpid()}"
    subprocess.run([tmux, "-L", server, "-f", "/dev/null", "new-session", "-d",
                    "-x", "200", "-y", "60", "-e", "TERM=xterm-256color",
                    f"cd {work} && exec {TEND} top --interval 1s"], check=True)
    time.sleep(3)
    pane_pid = int(subprocess.run([tmux, "-L", server, "list-panes", "-F", "#{pane_pid}"],
                                  capture_output=True, text=True).stdout.split()[0])
    screen = subprocess.run([tmux, "-L", server, "capture-pane", "-p"],
                            capture_output=True, text=True).stdout
    assert "running" in screen, screen
    results.append(measure("top", daemon, seconds, pane_pid))
    keys = threading.Event()

    def press():
        while not keys.is_set():
            subprocess.run([tmux, "-L", server, "send-keys", "j"])
            keys.wait(0.1)
    presser = threading.Thread(target=press, daemon=True)
    presser.start()
    results.append(measure("top+keys", daemon, seconds, pane_pid, "a key press every 100 ms"))
    keys.set()
    presser.join()
    subprocess.run([tmux, "-L", server, "kill-server"])


def procps_phase(daemon, seconds, results):
    """Baseline: procps top, batch mode, the same refresh."""
    top = subprocess.Popen(["top", "-b", "-d", "1", "-w", "200"], stdout=subprocess.DEVNULL)
    time.sleep(2)
    results.append(measure("procps", daemon, seconds, top.pid))
    top.terminate()
    top.wait()


def browser_phase(port, daemon, seconds, results, blank=False):
    """The dashboard open in headless chromium, untouched (or, the
    baseline, chromium on an empty page)."""
    chromium = shutil.which("chromium")
    if not (chromium and (BROWSER_DIR / "node_modules" / "playwright-core").exists()):
        print("  (no chromium or playwright-core: browser phase skipped)")
        return
    script = f"""
import {{ chromium }} from 'playwright-core';
const b = await chromium.launch({{ executablePath: {json.dumps(chromium)}, args: ['--no-sandbox'] }});
const p = await b.newPage({{ viewport: {{ width: 1400, height: 1000 }} }});
{"await p.goto('about:blank');" if blank else f"await p.goto('http://127.0.0.1:{port}/#token={TOKEN}'); await p.locator('#connection', {{ hasText: 'live' }}).waitFor({{ timeout: 60000 }});"}
console.log('open');
await new Promise(r => setTimeout(r, {int(seconds * 1000) + 8000}));
await b.close();
"""
    (BROWSER_DIR / ".surfaces.mjs").write_text(script)
    node = subprocess.Popen(["node", ".surfaces.mjs"], cwd=BROWSER_DIR,
                            stdout=subprocess.PIPE, text=True)
    assert node.stdout.readline().strip() == "open"
    time.sleep(5)  # past the first layout and history load
    label, note = ("blank", "chromium on an empty page") if blank else ("browser", "chromium's whole tree and node")
    results.append(measure(label, daemon, seconds, node.pid, note))
    node.wait()
    (BROWSER_DIR / ".surfaces.mjs").unlink()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


if __name__ == "__main__":
    main()
