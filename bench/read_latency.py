#!/usr/bin/env python3
"""Reads while the daemon is busy: p50/p99/max of `GET /readyz` and
`GET /v1/services` with 1,000 services, (a) while an operator's stop of a
service that ignores SIGTERM waits out its 30 s stop timeout, and (b) while
a reload replaces all 1,000 services. Readers must never wait on an
operator command: the status board answers them.

Usage: python3 bench/read_latency.py [--debug] [--services=N] [--seconds=S]
       [--binary=PATH]   (a tend binary built elsewhere: a baseline)

One reader at a time asks in a loop (a new connection per request, as
kubelet and `tend status` do) for S seconds (default 10) in each phase,
plus an idle phase first. Prints a Markdown table.
"""

import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARGS = dict(a[2:].split("=", 1) if "=" in a else (a[2:], "1") for a in sys.argv[1:] if a.startswith("--"))
DEBUG = "debug" in ARGS
SERVICES = int(ARGS.get("services", 1000))
SECONDS = float(ARGS.get("seconds", 10))


def build():
    profile = [] if DEBUG else ["--release"]
    subprocess.run(["cargo", "build", "-q", *profile, "-p", "tend-cli", "-p", "tend-testkit"], cwd=ROOT, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / ("debug" if DEBUG else "release")
    tend = Path(ARGS["binary"]) if "binary" in ARGS else target / "tend"
    return tend, target / "tend-testkit"


class Unix(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("tend", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def request(sock, method, path, timeout=120):
    conn = Unix(str(sock), timeout)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        body = response.read()
        return response.status, body
    finally:
        conn.close()


def config(testkit, env):
    """SERVICES sleeping services, and one that ignores SIGTERM with a 30 s
    stop timeout; `env` changes every service (a reload replaces them)."""
    lines = [f'[services.s{i}]\ncommand = ["{testkit}", "hang"]\nenv = {{ ROUND = "{env}" }}\n'
             for i in range(SERVICES)]
    lines.append(f'[services.stubborn]\ncommand = ["{testkit}", "ignore-term"]\n'
                 'stop = { timeout = "30s" }\n')
    return "\n".join(lines)


def measure(sock, path, seconds):
    """Latencies (ms) of `GET path` asked in a loop for `seconds`."""
    latencies = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.monotonic()
        status, _ = request(sock, "GET", path)
        latencies.append((time.monotonic() - t) * 1000)
        if status >= 500:
            raise SystemExit(f"GET {path}: {status}")
    return latencies


def row(phase, path, latencies):
    latencies = sorted(latencies)
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
    print(f"| {phase} | `GET {path}` | {len(latencies)} | {p(0.5):.1f} | {p(0.99):.1f} | {latencies[-1]:.1f} |")


def main():
    tend, testkit = build()
    with tempfile.TemporaryDirectory(prefix="tend-read-") as work:
        work = Path(work)
        (work / "tend.toml").write_text(config(testkit, "one"))
        up = subprocess.run([str(tend), "up", "-d", "-c", str(work / "tend.toml")],
                            capture_output=True, text=True, timeout=300)
        if up.returncode != 0:
            raise SystemExit(f"tend up -d failed: {up.stderr}")
        sock = work / ".tend" / "tend.sock"
        print(f"| phase | request | answers | p50 ms | p99 ms | max ms |")
        print("|---|---|---|---|---|---|")
        try:
            for path in ["/readyz", "/v1/services"]:
                row("idle", path, measure(sock, path, SECONDS))
            for path in ["/readyz", "/v1/services"]:
                # (a) a stop that waits out its 30 s timeout, from another thread.
                stopper = threading.Thread(target=request, args=(sock, "POST", "/v1/services/stubborn/stop"))
                stopper.start()
                time.sleep(0.5)
                row("during a 30 s stop", path, measure(sock, path, min(SECONDS, 25)))
                stopper.join()
                request(sock, "POST", "/v1/services/stubborn/start")
            for path in ["/readyz", "/v1/services"]:
                # (b) a reload that replaces every service.
                round_ = "two" if path == "/readyz" else "three"
                (work / "tend.toml").write_text(config(testkit, round_))
                reloader = threading.Thread(target=request, args=(sock, "POST", "/v1/reload"))
                reloader.start()
                time.sleep(0.2)
                latencies = []
                while reloader.is_alive() or not latencies:
                    latencies += measure(sock, path, 1)
                reloader.join()
                row(f"during a reload of {SERVICES}", path, latencies)
        finally:
            subprocess.run([str(tend), "down", "-c", str(work / "tend.toml")], capture_output=True, timeout=300)


if __name__ == "__main__":
    main()
