#!/usr/bin/env python3
"""Instructions the engine spends per restart, per child start and per child
stop, counted by callgrind (repeatable whatever else the machine does).

Each figure is the difference of two runs of a fixed workload (the
`restart_loop` and `stop_all` examples of tend-bench) divided by the
difference of their sizes, so set-up and tear-down cancel out.

    cargo build --release -p tend-bench --examples
    python3 bench/engine_instructions.py                  # this tree's build
    python3 bench/engine_instructions.py --target DIR     # another build (a baseline)

With several --target options, the trees are measured alternately and
printed side by side.
"""

import argparse
import re
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def instructions(binary: Path, *args: str) -> int:
    """Total instructions of one run under callgrind."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "callgrind.out"
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", str(binary), *args],
            capture_output=True,
            text=True,
            check=True,
        )
        match = re.search(r"Collected : (\d+)", run.stderr)
        if not match:
            raise SystemExit(f"no instruction count from {binary}:\n{run.stderr[-2000:]}")
        return int(match.group(1))


def per_unit(binary: Path, small: int, large: int, *extra: str) -> float:
    low = instructions(binary, str(small), *extra)
    high = instructions(binary, str(large), *extra)
    return (high - low) / (large - small)


def measure(target: Path) -> dict[str, float]:
    examples = target / "release" / "examples"
    restart = per_unit(examples / "restart_loop", 10_000, 60_000)
    start = per_unit(examples / "stop_all", 5_000, 25_000, "start-only")
    start_stop = per_unit(examples / "stop_all", 5_000, 25_000)
    return {
        "instructions per restart": restart,
        "instructions per child, start (builder)": start,
        "instructions per child, stop (shutdown)": start_stop - start,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", action="append", type=Path, help="a cargo target directory (default: this tree's)")
    parser.add_argument("--runs", type=int, default=1, help="alternating runs per target")
    options = parser.parse_args()
    targets = options.target or [ROOT / "target"]
    results: dict[Path, list[dict[str, float]]] = {t: [] for t in targets}
    for _ in range(options.runs):
        for target in targets:
            results[target].append(measure(target))
    names = list(next(iter(results.values()))[0])
    print("| measure | " + " | ".join(str(t) for t in targets) + " |")
    print("|---|" + "---|" * len(targets))
    for name in names:
        cells = [" / ".join(f"{run[name]:,.0f}" for run in results[t]) for t in targets]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
