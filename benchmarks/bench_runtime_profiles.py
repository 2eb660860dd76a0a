"""What porting to a runtime profile costs on onnxruntime: the 3-D Conv and pool rewrites against the
native 3-D ops, and whole example nets converted per profile, same run.

Layers: 3-D Conv (k3 p1, stride 1 and 2) and 3-D MaxPool/AveragePool (k2 s2) on (1, 32, 32^3), each
followed by a Relu. Nets: example:unet3d at 1x1x32x48x64 and example:gan3d, converted for each
profile that accepts them (--fix-sizes for the static ones).

    python benchmarks/bench_runtime_profiles.py [--provider cpu|cuda|auto] [--threads 2] [--budget 1.5]
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import describe, timing_parser, latency_ms, model_macs, random_input, session  # noqa: E402
from onnxport.converter import api  # noqa: E402
from onnxport.models import conv, examples, pool  # noqa: E402

LAYER = (1, 32, 32, 32, 32)
LAYERS = [
    ("Conv3d 32->32 k3 p1", lambda: conv.build(LAYER[2:], cin=32, cout=32, pads=[1] * 6, consumer="Relu"),
     "no-conv3d"),
    ("Conv3d 32->32 k3 s2 p1", lambda: conv.build(LAYER[2:], cin=32, cout=32, pads=[1] * 6, strides=[2] * 3,
                                                  consumer="Relu"), "no-conv3d"),
    ("MaxPool3d k2 s2", lambda: pool.build("MaxPool", LAYER[2:], [2, 2, 2], channels=32, strides=[2, 2, 2]),
     "no-pool3d"),
    ("AveragePool3d k3 s2 p1", lambda: pool.build("AveragePool", LAYER[2:], [3, 3, 3], channels=32,
                                                  strides=[2, 2, 2], pads=[1] * 6), "no-pool3d"),
]
NETS = [("unet3d", {"X": (1, 1, 32, 48, 64)}), ("gan3d", {"z": (1, 32, 1, 1, 1)})]
PROFILES = ["coreml", "nnapi", "xnnpack", "webgpu", "tflite", "tensorrt", "openvino"]


def main(argv=None) -> int:
    ap = timing_parser(__doc__)
    args = ap.parse_args(argv)
    print(describe(args.provider, args.threads))
    time = lambda m, feeds: latency_ms(session(m, args.provider, args.threads), feeds, args.budget)

    print(f"{'layer':26s} {'native ms':>10s} {'2-D form ms':>12s} {'ratio':>6s} {'MACs ratio':>10s}")
    for label, build, target in LAYERS:
        model = build()
        ported, _ = api.convert_model(model, targets=[target])
        feeds = {"X": random_input(LAYER)}
        native, split = time(model, feeds), time(ported, feeds)
        macs = model_macs(model, {"X": LAYER})
        ratio = f"{model_macs(ported, {'X': LAYER}) / macs:10.2f}" if macs else f"{'-':>10s}"
        print(f"{label:26s} {native:10.2f} {split:12.2f} {split / native:6.2f} {ratio}", flush=True)

    print(f"\n{'net':8s} {'profile':9s} {'nodes':>11s} {'native ms':>10s} {'ported ms':>10s} {'ratio':>6s}")
    for name, sizes in NETS:
        model = examples.build(name)
        feeds = {k: random_input(v) for k, v in sizes.items()}
        for profile in PROFILES:
            ported, report = api.convert_model(model, targets=[profile], fix_sizes=sizes)
            native = time(model, feeds)           # again per row: the pair is timed back to back
            if report.remaining:
                print(f"{name:8s} {profile:9s} {'-':>11s} {native:10.2f} {'not reached':>10s}", flush=True)
                continue
            ms = time(ported, feeds)
            print(f"{name:8s} {profile:9s} {report.nodes_before:4d} -> {report.nodes_after:3d} {native:10.2f} "
                  f"{ms:10.2f} {ms / native:6.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
