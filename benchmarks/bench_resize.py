"""Latency of the 4-D Resize chain (no-resize5d) against onnxruntime's native 5-D Resize, same run.

x2 up-sampling of (1, 32, 32^3) and (1, 16, 64^3), nearest (PyTorch nn.Upsample: asymmetric/floor) and
trilinear (half_pixel), each followed by a Relu.

    python benchmarks/bench_resize.py [--provider cpu|cuda|auto] [--threads 2] [--budget 1.5]
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import describe, timing_parser, latency_ms, random_input, session  # noqa: E402
from onnxport.converter import api  # noqa: E402
from onnxport.models import resize  # noqa: E402

SHAPES = [(1, 32, 32, 32, 32), (1, 16, 64, 64, 64)]
MODES = [("nearest", {"coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}),
         ("linear", {"coordinate_transformation_mode": "half_pixel"})]


def main(argv=None) -> int:
    ap = timing_parser(__doc__)
    args = ap.parse_args(argv)
    print(describe(args.provider, args.threads))
    print(f"{'input':22s} {'mode':8s} {'native 5-D ms':>14s} {'4-D chain ms':>13s} {'ratio':>6s}")
    for shape in SHAPES:
        for mode, attrs in MODES:
            model = resize.build(shape, scales=[1, 1, 2, 2, 2], mode=mode, **attrs)
            chain, _ = api.convert_model(model, targets=["no-resize5d"])
            feeds = {"X": random_input(shape)}
            native = latency_ms(session(model, args.provider, args.threads), feeds, args.budget)
            split = latency_ms(session(chain, args.provider, args.threads), feeds, args.budget)
            print(f"{'x'.join(map(str, shape)):22s} {mode:8s} {native:14.2f} {split:13.2f} {split / native:6.2f}",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
