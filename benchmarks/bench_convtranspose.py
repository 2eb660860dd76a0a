"""Latency of the ConvTranspose rewrites against the native op, same run, typical 3-D decoder layers.

Each layer is followed by a Relu, as in a real net (a reshape that writes a graph output would add a
copy). Prints per layer and batch: native and rewritten latency on onnxruntime (default graph
optimizations, as deployed), their ratio, and the MACs of both.

    python benchmarks/bench_convtranspose.py [--provider cpu|cuda|auto] [--threads 2] [--budget 1.5]
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import describe, timing_parser, latency_ms, model_macs, random_input, session  # noqa: E402
from onnxport.converter import api  # noqa: E402
from onnxport.models import convtranspose  # noqa: E402

LAYERS = [  # name, cin, cout, kernel, stride, pads, output_padding, spatial
    ("64->32 k2 s2 @32^3", 64, 32, 2, 2, 0, 0, 32),
    ("128->64 k2 s2 @16^3", 128, 64, 2, 2, 0, 0, 16),
    ("32->16 k3 s2 p1 op1 @32^3", 32, 16, 3, 2, 1, 1, 32),
    ("64->32 k4 s2 p1 @16^3", 64, 32, 4, 2, 1, 0, 16),
]


def main(argv=None) -> int:
    ap = timing_parser(__doc__)
    ap.add_argument("--strategies", default="subpixel", help="comma-separated strategies to time")
    ap.add_argument("--batches", default="1,2")
    args = ap.parse_args(argv)
    print(describe(args.provider, args.threads))
    strategies = args.strategies.split(",")
    print(f"{'layer':28s} {'N':>2s} {'native ms':>10s} " + " ".join(f"{s + ' ms':>14s} {'ratio':>6s}" for s in strategies)
          + f" {'MACs native':>14s} " + " ".join(f"{'MACs ' + s:>16s}" for s in strategies))
    for name, cin, cout, k, s, p, op, size in LAYERS:
        for batch in map(int, args.batches.split(",")):
            model = convtranspose.build([size] * 3, cin, cout, [k] * 3, strides=[s] * 3, pads=[p] * 6,
                                        output_padding=[op] * 3, batch=batch, consumer="Relu")
            feeds = {"X": random_input([batch, cin] + [size] * 3)}
            shapes = {"X": feeds["X"].shape}
            native = latency_ms(session(model, args.provider, args.threads), feeds, args.budget)
            cells, mac_cells = [], []
            for strategy in strategies:
                rewritten, _ = api.convert_model(model, strategy=strategy)
                t = latency_ms(session(rewritten, args.provider, args.threads), feeds, args.budget)
                cells.append(f"{t:14.2f} {t / native:6.2f}")
                mac_cells.append(f"{model_macs(rewritten, shapes):16,d}")
            print(f"{name:28s} {batch:2d} {native:10.2f} " + " ".join(cells)
                  + f" {model_macs(model, shapes):14,d} " + " ".join(mac_cells), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
