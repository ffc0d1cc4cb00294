#!/usr/bin/env python3
"""What a container child costs: restarts per second of a container that
exits at once, under `tend up`, against the same container run in a plain
shell loop by the runtime alone, measured in the same run.

    python3 bench/container_bench.py [--seconds 30]

Needs podman (with a runtime that works here: /etc/containers/containers.conf
as .ci/run writes it) and a static busybox at /bin/busybox. Builds the
release binary, makes a busybox root filesystem, then, one phase at a time,
for --seconds each:

  loop       baseline: `podman run --rm --rootfs DIR --network none sh -c
             'exit 1'` again and again from a shell: the runtime's own cost
             of one container's life
  tend       the same container as a tend service (`restart = "always"`,
             `backoff = "none"`): each incarnation removes the last one's
             container, runs the client attached, looks up the main pid,
             and reads the exit on the client's pidfd

Reports each rate and the ratio tend / loop.
"""

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEND = ROOT / "target" / "release" / "tend"


def rootfs(base: Path) -> Path:
    root = base / "rootfs"
    (root / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", root / "bin" / "busybox")
    for applet in ["sh", "sleep", "echo"]:
        os.symlink("busybox", root / "bin" / applet)
    return root


def loop(root: Path, seconds: float) -> float:
    runs = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        subprocess.run(
            ["podman", "run", "--rm", "--network", "none", "--rootfs", str(root),
             "/bin/sh", "-c", "exit 1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        runs += 1
    return runs / (time.monotonic() - start)


def restarts(project: Path) -> int:
    out = subprocess.run([str(TEND), "status", "--json"], cwd=project,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)[0]["restarts"]


def under_tend(root: Path, base: Path, seconds: float) -> float:
    project = base / "project"
    project.mkdir()
    (project / "tend.toml").write_text(f"""
[supervisor]
intensity = {{ max_restarts = 1000000, period = "60s" }}

[services.bench]
container = {{ rootfs = "{root}", network = "none" }}
shell = "exit 1"
backoff = "none"
""")
    env = dict(os.environ, TEND_LOG="error")
    daemon = subprocess.Popen([str(TEND), "up"], cwd=project, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                first = restarts(project)
                break
            except (subprocess.CalledProcessError, json.JSONDecodeError, IndexError):
                time.sleep(0.1)
        start = time.monotonic()
        time.sleep(seconds)
        last = restarts(project)
        return (last - first) / (time.monotonic() - start)
    finally:
        subprocess.run([str(TEND), "down"], cwd=project, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        daemon.wait(timeout=60)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "--bin", "tend"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory(prefix="tend-container-bench-") as tmp:
        base = Path(tmp)
        root = rootfs(base)
        baseline = loop(root, args.seconds)
        print(f"loop (podman run --rm, from a shell): {baseline:.2f} containers/s")
        tend = under_tend(root, base, args.seconds)
        print(f"tend (restart = always, no backoff):  {tend:.2f} restarts/s")
        print(f"ratio tend / loop: {tend / baseline:.2f}")


if __name__ == "__main__":
    main()
