#!/usr/bin/env python3
"""The API under load: 200 concurrent clients on the control socket for a
minute while 100 services crash-loop.

Usage: python3 bench/api_load.py [--debug] [--duration=S] [--clients=N] [--files]

(--files lists the daemon's open files, logs aside, at each idle count.)

Clients, a quarter each: status pollers (GET /v1/services in a loop),
restarters (POST /v1/services/NAME/restart in a loop), event followers
(GET /v1/events?follow=true, one stream held for the whole run) and log
followers (GET /v1/services/NAME/logs?follow=true, likewise). A request
fails if it gets no answer, a status other than 2xx, or a stream ends
early. Reported: requests and failures, p50/p99/max latency of the
request-response clients, bytes the streams received, the daemon's RSS
and open descriptors before, at the end, and after the clients left, and
its descriptors with every service stopped before and after the run (the
count a leak would raise; with services running it moves with their
pipes). Exit status 0 when no request failed and no descriptor leaked.
"""

import http.client
import json
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
DURATION = float(ARGS.get("duration", 60))
CLIENTS = int(ARGS.get("clients", 200))
SERVICES = 100


def build():
    profile = [] if DEBUG else ["--release"]
    subprocess.run(["cargo", "build", "-q", *profile, "-p", "tend-cli", "-p", "tend-testkit"], cwd=ROOT, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / ("debug" if DEBUG else "release")
    return target / "tend", target / "tend-testkit"


class Unix(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("tend", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def descriptor_kinds(pid):
    """The daemon's descriptors by what they are (socket, pipe, anon_inode:…)."""
    kinds = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        kind = target.split(":")[0] if ":" in target else "file"
        if target.startswith("anon_inode:"):
            kind = target
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def daemon_facts(pid):
    rss = next(int(l.split()[1]) for l in Path(f"/proc/{pid}/status").read_text().splitlines()
               if l.startswith("VmRSS:"))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def main():
    tend, testkit = build()
    with tempfile.TemporaryDirectory(prefix="tend-load-") as tmp:
        tmp = Path(tmp)
        text = '[supervisor]\nintensity = { max_restarts = 1000000, period = "1s" }\n\n'
        for i in range(SERVICES):
            text += (f"[services.s{i:03}]\ncommand = {json.dumps([str(testkit), 'exit', '1', '--after', '200'])}\n"
                     f'backoff = {{ initial = "300ms", max = "300ms" }}\n\n')
        (tmp / "tend.toml").write_text(text)
        up = subprocess.Popen([str(tend), "up"], cwd=tmp, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sock = str(tmp / ".tend" / "tend.sock")
        start = time.monotonic()
        while not os.path.exists(sock) and time.monotonic() - start < 60:
            time.sleep(0.1)
        time.sleep(3)

        def idle_descriptors():
            """The daemon's descriptors with every service stopped (no
            child pipes or pidfds): the count a leak would raise."""
            for i in range(SERVICES):
                conn = Unix(sock, 60)
                conn.request("POST", f"/v1/services/s{i:03}/stop")
                conn.getresponse().read()
                conn.close()
            time.sleep(1)
            fds = daemon_facts(up.pid)[1]
            print(f"  idle descriptors: {fds} {descriptor_kinds(up.pid)}", flush=True)
            if "files" in ARGS:
                names = sorted(os.readlink(f"/proc/{up.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{up.pid}/fd"))
                print("  " + " ".join(n.replace(str(tmp), "") for n in names if "logs" not in n), flush=True)
            for i in range(SERVICES):
                conn = Unix(sock, 60)
                conn.request("POST", f"/v1/services/s{i:03}/start")
                conn.getresponse().read()
                conn.close()
            return fds

        idle_before = idle_descriptors()
        time.sleep(2)
        before = daemon_facts(up.pid)

        stop = threading.Event()
        lock = threading.Lock()
        latencies, failures, counts, streamed = [], [], {"requests": 0}, [0]
        open_streams = []

        def fail(what):
            with lock:
                failures.append(what)

        def requester(i, method, path_of):
            n = 0
            while not stop.is_set():
                path = path_of(n)
                n += 1
                t0 = time.perf_counter()
                try:
                    conn = Unix(sock, 30)
                    conn.request(method, path)
                    response = conn.getresponse()
                    response.read()
                    conn.close()
                    took = time.perf_counter() - t0
                    with lock:
                        counts["requests"] += 1
                        latencies.append(took)
                    if not 200 <= response.status < 300:
                        fail(f"{method} {path}: {response.status}")
                except OSError as e:
                    fail(f"{method} {path}: {e}")

        def follower(path):
            try:
                # A quiet service's log stream may carry nothing for the
                # whole run: no read timeout.
                conn = Unix(sock, None)
                conn.request("GET", path)
                with lock:
                    open_streams.append(conn)
                response = conn.getresponse()
                with lock:
                    counts["requests"] += 1
                if response.status != 200:
                    fail(f"GET {path}: {response.status}")
                    return
                while not stop.is_set():
                    chunk = response.fp.read1(65536) if hasattr(response.fp, "read1") else response.read(4096)
                    if not chunk:
                        if not stop.is_set():
                            fail(f"GET {path}: the stream ended")
                        return
                    with lock:
                        streamed[0] += len(chunk)
                conn.close()
            except OSError as e:
                if not stop.is_set():
                    fail(f"GET {path}: {e}")

        threads = []
        quarter = CLIENTS // 4
        for i in range(quarter):
            threads.append(threading.Thread(target=requester, args=(i, "GET", lambda n: "/v1/services")))
            threads.append(threading.Thread(
                target=requester, args=(i, "POST", lambda n, i=i: f"/v1/services/s{(i * 7 + n) % SERVICES:03}/restart")))
            threads.append(threading.Thread(target=follower, args=("/v1/events?follow=true",)))
            threads.append(threading.Thread(target=follower, args=(f"/v1/services/s{i % SERVICES:03}/logs?follow=true",)))
        for t in threads:
            t.daemon = True
            t.start()
        samples = []
        end = time.monotonic() + DURATION
        while time.monotonic() < end:
            time.sleep(1)
            samples.append(daemon_facts(up.pid))
            if len(samples) % 10 == 0:
                print(f"  {len(samples)} s: RSS {samples[-1][0]} KiB, {samples[-1][1]} descriptors", flush=True)
        at_end = daemon_facts(up.pid)
        stop.set()
        # Requesters end with their request; followers are cut off here
        # (a quiet stream would keep its reader blocked).
        with lock:
            for conn in open_streams:
                try:
                    conn.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        deadline = time.monotonic() + 35
        for t in threads:
            t.join(timeout=max(0, deadline - time.monotonic()))
        time.sleep(3)
        after = daemon_facts(up.pid)
        idle_after = idle_descriptors()
        status = json.loads(subprocess.run([str(tend), "status", "--json"], cwd=tmp,
                                           capture_output=True, text=True).stdout)
        restarts = sum(s["restarts"] for s in status)
        subprocess.run([str(tend), "down"], cwd=tmp, capture_output=True)
        up.wait(timeout=120)

    latencies.sort()
    pct = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000
    print(f"api load: {CLIENTS} clients for {DURATION:g} s, {SERVICES} services crash-looping "
          f"({restarts} restarts in all)")
    print(f"requests: {counts['requests']}, failed: {len(failures)} {failures[:5]}")
    print(f"latency (status and restart requests): p50 {pct(0.50):.1f} ms, p99 {pct(0.99):.1f} ms, "
          f"max {latencies[-1] * 1000:.1f} ms; streams received {streamed[0] / 1e6:.1f} MB")
    rss = [s[0] for s in samples]
    print(f"daemon RSS: {before[0]} KiB before, {max(rss)} KiB at most, {at_end[0]} KiB at the end, "
          f"{after[0]} KiB after (median over the run {statistics.median(rss):.0f} KiB)")
    print(f"daemon descriptors: {before[1]} before, {max(s[1] for s in samples)} at most, {after[1]} after; "
          f"with every service stopped: {idle_before} before the run, {idle_after} after")
    leaked = idle_after > idle_before
    return 1 if failures or leaked else 0


if __name__ == "__main__":
    sys.exit(main())
