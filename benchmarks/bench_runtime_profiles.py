"""What porting to a runtime profile costs on onnxruntime: the 3-D Conv and pool rewrites against the
native 3-D ops, and whole example nets converted per profile, interleaved (benchmarks.common.compare).

Layers: 3-D Conv (k3 p1, stride 1 and 2) and 3-D MaxPool/AveragePool (k2 s2) on (1, 32, 32^3), each
followed by a Relu. Nets: example:unet3d at 1x1x32x48x64 and example:gan3d, converted for each
profile that accepts them (--fix-sizes for the static ones).

    python benchmarks/bench_runtime_profiles.py [--provider cpu|cuda|auto] [--threads 2] [--budget 10]
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import compare_models, describe, load_text, model_macs, random_input, timing_parser  # noqa: E402
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
    print(load_text() + " (before)")
    print("| layer | native ms | 2-D form / native | rounds | MACs ratio |\n|---|---|---|---|---|")
    for label, build, target in LAYERS:
        model = build()
        ported, _ = api.convert_model(model, targets=[target])
        result = compare_models({"native": model, "ported": ported}, {"X": random_input(LAYER)}, args)
        macs = model_macs(model, {"X": LAYER})
        ratio = f"{model_macs(ported, {'X': LAYER}) / macs:.2f}" if macs else "-"
        print(f"| {label} | {result.ms['native'].text()} | {result.ratio['ported'].text()} | {result.rounds} | {ratio} |",
              flush=True)

    print("\n| net | profile | nodes | native ms | ported / native | rounds |\n|---|---|---|---|---|---|")
    for name, sizes in NETS:
        model = examples.build(name)
        feeds = {k: random_input(v) for k, v in sizes.items()}
        for profile in PROFILES:
            ported, report = api.convert_model(model, targets=[profile], fix_sizes=sizes)
            if report.remaining:
                print(f"| {name} | {profile} | - | - | not reached | - |", flush=True)
                continue
            result = compare_models({"native": model, "ported": ported}, feeds, args)
            print(f"| {name} | {profile} | {report.nodes_before} -> {report.nodes_after} | {result.ms['native'].text()} "
                  f"| {result.ratio['ported'].text()} | {result.rounds} |", flush=True)
    print(load_text() + " (after)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
