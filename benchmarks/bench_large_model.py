"""Conversion at scale: `onnxport convert --no-verify` on a generated GB-scale 3-D U-Net against plain
onnx.load + onnx.save of the same model, same run; then conversion time at 1x, 4x and 16x the nodes.

Each measurement runs in a fresh Python process that reports its own wall time (the operation only,
not the interpreter start) and peak resident memory (ru_maxrss). The model (models/large_unet3d.py) is
written to a temporary folder and deleted afterwards.

    python benchmarks/bench_large_model.py [--scales 1,4,16] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from onnxport.models import large_unet3d  # noqa: E402

MEASURE = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
what, src, dst = {what!r}, {src!r}, {dst!r}
start = time.perf_counter()
if what == "load+save":
    import onnx
    model = onnx.load(src)
    onnx.save_model(model, dst, save_as_external_data=True, all_tensors_to_one_file=True,
                    location=dst.rsplit("/", 1)[-1] + ".data")
else:
    from onnxport import cli
    code = cli.main(["convert", src, "-o", dst, "--no-verify", "--force"])
    assert code == 0, code
wall = time.perf_counter() - start
print(json.dumps({{"wall_s": wall, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
SMALL_WIDTHS = (4, 8, 8, 16)        # node-count scaling: the graph grows, the weights stay small


def measure(what: str, src: Path, dst: Path) -> dict:
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
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="onnxport-large-") as tmp:
        base = Path(args.keep or tmp)
        big = base / "big"
        big.mkdir(parents=True, exist_ok=True)
        src = large_unet3d.write(big)
        weights = (big / (src.name + ".data")).stat().st_size
        print(f"model: {nodes_of(src)} nodes, {weights / 2**30:.2f} GiB of weights (external data)")
        plain = measure("load+save", src, big / "plain.onnx")
        ours = measure("convert", src, big / "port.onnx")
        print(f"{'':28s} {'wall s':>8s} {'peak MiB':>9s}")
        print(f"{'onnx.load + onnx.save':28s} {plain['wall_s']:8.2f} {plain['peak_mib']:9.0f}")
        print(f"{'onnxport convert --no-verify':28s} {ours['wall_s']:8.2f} {ours['peak_mib']:9.0f}")
        print(f"convert / load+save time: {ours['wall_s'] / plain['wall_s']:.2f} (goal <= 1.5); "
              f"peak / weights: {ours['peak_mib'] * 2**20 / weights:.2f} (goal <= 2)")
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
