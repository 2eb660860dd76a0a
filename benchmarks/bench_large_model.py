"""Conversion at scale: `onnxport convert --no-verify` on a generated GB-scale 3-D U-Net against plain
onnx.load + onnx.save of the same model, interleaved; then conversion time at 1x, 4x and 16x the nodes.

Each measurement runs in a fresh Python process that imports everything first and then reports the wall
time of the operation alone (no interpreter start, no imports) and its peak resident memory (VmHWM:
ru_maxrss would carry over this script's own peak through fork). The model's files are read once before
any timing (a cold page cache made the first form look slow), then both forms run in shuffled order for
--rounds rounds; the ratio is taken per round and printed as median (min-max). The model
(models/large_unet3d.py) is written to a temporary folder and deleted afterwards.

    python benchmarks/bench_large_model.py [--scales 1,4,16] [--rounds 5] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import load_text, spread  # noqa: E402
from onnxport.models import large_unet3d  # noqa: E402

MEASURE = """
import json, sys, time
sys.path.insert(0, {root!r})
what, src, dst = {what!r}, {src!r}, {dst!r}
import onnx
from onnxport import cli
cli._load_library()
start = time.perf_counter()
if what == "load+save":
    model = onnx.load(src)
    onnx.save_model(model, dst, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=dst.rsplit("/", 1)[-1] + ".data")
else:
    code = cli.main(["convert", src, "-o", dst, "--no-verify", "--force"])
    assert code == 0, code
wall = time.perf_counter() - start
with open("/proc/self/status") as status:   # VmHWM: ru_maxrss would include this benchmark's own peak
    peak_kib = int(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
print(json.dumps({{"wall_s": wall, "peak_mib": peak_kib / 1024}}))
"""
SMALL_WIDTHS = (4, 8, 8, 16)        # node-count scaling: the graph grows, the weights stay small


def measure(what: str, src: Path, dst: Path) -> dict:
    for old in (dst, dst.with_name(dst.name + ".data")):      # onnx.save appends to an existing data file
        old.unlink(missing_ok=True)
    code = MEASURE.format(root=str(ROOT), what=what, src=str(src), dst=str(dst))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def nodes_of(path: Path) -> int:
    import onnx
    return len(onnx.load(str(path), load_external_data=False).graph.node)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", default="1,4,16", help="node-count multiples for the linearity run")
    ap.add_argument("--keep", help="write the models here instead of a temporary folder")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds of load+save and convert")
    args = ap.parse_args(argv)
    print(load_text() + " (before)")
    with tempfile.TemporaryDirectory(prefix="onnxport-large-") as tmp:
        base = Path(args.keep or tmp)
        big = base / "big"
        big.mkdir(parents=True, exist_ok=True)
        src = large_unet3d.write(big)
        weights = (big / (src.name + ".data")).stat().st_size
        print(f"model: {nodes_of(src)} nodes, {weights / 2**30:.2f} GiB of weights (external data)")
        measure("load+save", src, big / "plain.onnx")                # the page cache holds the input now
        runs: dict[str, list[dict]] = {"load+save": [], "convert": []}
        order, rng = list(runs), random.Random(0)
        for _ in range(args.rounds):
            rng.shuffle(order)
            for what in order:
                runs[what].append(measure(what, src, big / ("plain.onnx" if what == "load+save" else "port.onnx")))
        ratios = [c["wall_s"] / p["wall_s"] for c, p in zip(runs["convert"], runs["load+save"])]
        peak = max(r["peak_mib"] for r in runs["convert"])
        print("| operation | wall s, median (min-max) | peak MiB |\n|---|---|---|")
        for what, label in (("load+save", "onnx.load + onnx.save"), ("convert", "onnxport convert --no-verify")):
            print(f"| {label} | {spread([r['wall_s'] for r in runs[what]]).text()} | "
                  f"{max(r['peak_mib'] for r in runs[what]):.0f} |")
        print(f"convert / load+save time, per round: {spread(ratios).text()} over {args.rounds} rounds "
              f"(goal <= 1.5); convert's peak / weights: {peak * 2**20 / weights:.2f} (goal <= 2)")
        for f in big.iterdir():
            f.unlink()

        print(f"\n{'scale':>5s} {'nodes':>7s} {'convert s':>10s} {'s per 1k nodes':>15s} {'vs 1x':>6s}")
        first = None
        for scale in [int(s) for s in args.scales.split(",")]:
            folder = base / f"x{scale}"
            folder.mkdir(exist_ok=True)
            blocks = tuple(b * scale for b in large_unet3d.DEFAULT_BLOCKS)
            path = large_unet3d.write(folder, blocks=blocks, widths=SMALL_WIDTHS)
            n = nodes_of(path)
            wall = measure("convert", path, folder / "port.onnx")["wall_s"]
            per = wall / n * 1000
            first = first or per
            print(f"{scale:5d} {n:7d} {wall:10.2f} {per:15.3f} {per / first:6.2f}", flush=True)
    print(load_text() + " (after)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
