"""Verification and size-analysis cost: wall time and peak memory of whole commands, in fresh processes.

Each case runs `onnxport ...` in its own process (peak RSS from the kernel's accounting of the child),
repeated in shuffled rounds, and prints min/median/max and the machine's load. --checkout runs the
same commands against another checkout of onnxport (a before/after comparison, e.g. the commit before
the size analysis): its cli.py is started with that checkout first on sys.path.

    python benchmarks/bench_verify.py [--rounds 3] [--checkout /path/to/old/onnxport]
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "data" / "real_exports"


def cases(tmp: Path) -> dict[str, list[str]]:
    freed = str(tmp / "freed.onnx")
    return {
        "verify decoder3d (dynamic, x8 up-sampling)": ["verify", str(FIXTURES / "decoder3d.torchscript.dynamic.onnx"),
                                                      str(FIXTURES / "decoder3d.torchscript.dynamic.onnx")],
        "verify example:unet3d": ["verify", "example:unet3d", "example:unet3d"],
        "sizes monai_unetr (largest fixture)": ["sizes", str(FIXTURES / "monai_unetr.torchscript.dynamic.onnx")],
        "strip-sizes monai_segresnet": ["strip-sizes", str(FIXTURES / "monai_segresnet.torchscript.fixed.onnx"),
                                        "-o", freed, "--force"],
    }


def seconds(checkout: Path, args: list[str]) -> float:
    """Wall time of one command in a fresh process."""
    start = time.perf_counter()
    subprocess.run([sys.executable, str(checkout / "cli.py"), *args], cwd=checkout, capture_output=True,
                   env={**os.environ, "PYTHONPATH": str(checkout)})
    return time.perf_counter() - start


def peak_alone(checkout: Path, args: list[str]) -> tuple[float, int]:
    """Peak MiB (and exit code) of one command, from a fresh Python whose only child it is."""
    probe = ("import resource, subprocess, sys; "
             "code = subprocess.run(sys.argv[1:], capture_output=True).returncode; "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, code)")
    out = subprocess.run([sys.executable, "-c", probe, sys.executable, str(checkout / "cli.py"), *args],
                         cwd=checkout, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(checkout)})
    mib, code = out.stdout.split()
    return float(mib), int(code)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--checkout", type=Path, default=ROOT, help="the onnxport checkout to measure (default: this)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        todo = cases(Path(tmp))
        print(f"checkout {args.checkout}; {args.rounds} shuffled round(s); load average {os.getloadavg()[0]:.2f} "
              f"on {os.cpu_count()} CPUs")
        peaks = {name: peak_alone(args.checkout, cmd) for name, cmd in todo.items()}
        times: dict[str, list[float]] = {name: [] for name in todo}
        for _ in range(args.rounds):
            order = list(todo)
            random.shuffle(order)
            for name in order:
                times[name].append(seconds(args.checkout, todo[name]))
        for name, values in times.items():
            mib, code = peaks[name]
            print(f"{name}: {min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f} s "
                  f"(min/median/max), peak {mib:.0f} MiB, exit {code}")
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
