"""Latency of the 4-D Resize chain (no-resize5d) against onnxruntime's native 5-D Resize, interleaved.

x2 up-sampling of (1, 32, 32^3) and (1, 16, 64^3), nearest (PyTorch nn.Upsample: asymmetric/floor) and
trilinear (half_pixel), each followed by a Relu. Ratios are per round (benchmarks.common.compare):
median (min-max) over the rounds.

    python benchmarks/bench_resize.py [--provider cpu|cuda|auto] [--threads 2] [--budget 10]
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import compare_models, describe, load_text, random_input, timing_parser  # noqa: E402
from onnxport.converter import api  # noqa: E402
from onnxport.models import resize  # noqa: E402

SHAPES = [(1, 32, 32, 32, 32), (1, 16, 64, 64, 64)]
MODES = [("nearest", {"coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}),
         ("linear", {"coordinate_transformation_mode": "half_pixel"})]


def main(argv=None) -> int:
    ap = timing_parser(__doc__)
    args = ap.parse_args(argv)
    print(describe(args.provider, args.threads))
    print(load_text() + " (before)")
    print("| input | mode | native 5-D ms | 4-D chain ms | chain / native | rounds |\n|---|---|---|---|---|---|")
    for shape in SHAPES:
        for mode, attrs in MODES:
            model = resize.build(shape, scales=[1, 1, 2, 2, 2], mode=mode, **attrs)
            chain, _ = api.convert_model(model, targets=["no-resize5d"])
            result = compare_models({"native": model, "chain": chain}, {"X": random_input(shape)}, args)
            print(f"| {'x'.join(map(str, shape))} | {mode} | {result.ms['native'].text()} | {result.ms['chain'].text()} "
                  f"| {result.ratio['chain'].text()} | {result.rounds} |", flush=True)
    print(load_text() + " (after)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
