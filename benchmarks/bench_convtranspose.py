"""Latency of the ConvTranspose rewrites against the native op, interleaved, typical 3-D decoder layers.

Each layer is followed by a Relu, as in a real net: by default the Relu feeds the net on (a
GlobalAveragePool stands for the next layer: it reads every value and costs both forms the same);
`--consumer Relu`: the Relu writes the graph output; `--consumer none`: the layer does. Forms are timed in shuffled interleaved rounds (benchmarks.common.compare); printed per layer
and batch: the native op's time and each form's time / native in the same round, as median (min-max)
over the rounds. `floor` is the sub-pixel form's Conv alone (what the interleave costs on top of it).

`--kernels` adds, per layer, where each form's time goes: onnxruntime's own per-kernel times (the
profiler), summed per op type.

Then whole nets with 3-D ConvTransposes (the bundled examples and the fixed MONAI exports), native
against converted with each strategy.

    python benchmarks/bench_convtranspose.py [--strategies subpixel,convtranspose2d] [--budget 10] [--consumer C]
"""
from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import onnx  # noqa: E402

from benchmarks.common import (compare, compare_models, describe, kernel_ms, load_text, model_macs,  # noqa: E402
                               random_input, session, timing_parser)
from onnxport.converter import api  # noqa: E402
from onnxport.converter.verification import run_plan
from onnxport.models import convtranspose, examples  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "data", "real_exports")
NETS = [("example:gan3d", lambda: examples.build("gan3d")), ("example:unet3d", lambda: examples.build("unet3d"))] + [
    (name, lambda name=name: onnx.load(os.path.join(FIXTURES, f"{name}.onnx")))
    for name in ("monai_unet.torchscript.fixed", "monai_dynunet.torchscript.fixed",
                 "monai_attentionunet.torchscript.fixed")]

LAYERS = [  # name, cin, cout, kernel, stride, pads, output_padding, spatial
    ("64->32 k2 s2 @32^3", 64, 32, 2, 2, 0, 0, 32),
    ("128->64 k2 s2 @16^3", 128, 64, 2, 2, 0, 0, 16),
    ("32->16 k3 s2 p1 op1 @32^3", 32, 16, 3, 2, 1, 1, 32),
    ("64->32 k4 s2 p1 @16^3", 64, 32, 4, 2, 1, 0, 16),
]


def conv_only(model: onnx.ModelProto) -> onnx.ModelProto:
    """The rewritten model cut after its Convs: their outputs become the graph's, the rest is dropped."""
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    wanted = {o for n in convs for o in n.output}
    needed, kept = set(wanted), []
    for node in reversed(model.graph.node):
        if set(node.output) & needed:
            kept.append(node)
            needed |= set(node.input)
    cut = onnx.ModelProto()
    cut.CopyFrom(model)
    del cut.graph.node[:]
    cut.graph.node.extend(reversed(kept))
    del cut.graph.output[:]
    cut.graph.output.extend(onnx.helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, None) for o in sorted(wanted))
    return cut


def main(argv=None) -> int:
    ap = timing_parser(__doc__)
    ap.add_argument("--strategies", default="subpixel", help="comma-separated strategies to time")
    ap.add_argument("--batches", default="1")
    ap.add_argument("--consumer", default="Relu+GlobalAveragePool", choices=["Relu+GlobalAveragePool", "Relu", "none"])
    ap.add_argument("--kernels", action="store_true", help="per layer, onnxruntime's kernel times per op type")
    args = ap.parse_args(argv)
    print(describe(args.provider, args.threads))
    print(load_text() + " (before)")
    strategies = args.strategies.split(",")
    forms = strategies + ["floor"]
    print(f"| layer | N | native ms | " + " | ".join(f"{f} / native" for f in forms) + " | rounds | MACs native | "
          + " | ".join(f"MACs {s}" for s in strategies) + " |")
    print("|---|---|---|" + "---|" * len(forms) + "---|---|" + "---|" * len(strategies))
    kernels = []
    for name, cin, cout, k, s, p, op, size in LAYERS:
        for batch in map(int, args.batches.split(",")):
            model = convtranspose.build([size] * 3, cin, cout, [k] * 3, strides=[s] * 3, pads=[p] * 6,
                                        output_padding=[op] * 3, batch=batch,
                                        consumer=None if args.consumer == "none" else args.consumer)
            feeds = {"X": random_input([batch, cin] + [size] * 3)}
            rewritten = {st: api.convert_model(model, strategy=st)[0] for st in strategies}
            rewritten["floor"] = conv_only(rewritten[strategies[0]])
            sessions = {"native": session(model, args.provider, args.threads)}
            sessions.update({f: session(m, args.provider, args.threads) for f, m in rewritten.items()})
            result = compare({f: (lambda s=s: s.run(None, feeds)) for f, s in sessions.items()}, "native",
                             budget_s=args.budget)
            macs = [model_macs(rewritten[st], {"X": feeds["X"].shape}) for st in strategies]
            print(f"| {name} | {batch} | {result.ms['native'].text()} | "
                  + " | ".join(result.ratio[f].text() for f in forms) + f" | {result.rounds} | "
                  f"{model_macs(model, {'X': feeds['X'].shape}):,} | " + " | ".join(f"{m:,}" for m in macs) + " |",
                  flush=True)
            if args.kernels:
                kernels.append((f"{name}, N={batch}", {f: kernel_ms(m, feeds, args.provider, args.threads)
                                       for f, m in {"native": model, **rewritten}.items() if f != "floor"}))
    for name, per_form in kernels:
        print(f"\nkernels, {name} (ms, median per node, summed per op type):")
        for form, totals in per_form.items():
            print(f"  {form}: total {sum(totals.values()):.2f} = " +
                  ", ".join(f"{op} {ms:.2f}" for op, ms in sorted(totals.items(), key=lambda kv: -kv[1])))
    print("\n| net | native ms | " + " | ".join(f"{st} / native" for st in strategies) + " | rounds |")
    print("|---|---|" + "---|" * len(strategies) + "---|")
    for name, build in NETS:
        model = build()
        feeds = {k: random_input(v) for k, v in run_plan.plan(model, runs=1).first.items()}    # sizes it runs at
        forms = {"native": model, **{st: api.convert_model(model, strategy=st)[0] for st in strategies}}
        result = compare_models(forms, feeds, args)
        print(f"| {name} | {result.ms['native'].text()} | " + " | ".join(result.ratio[st].text() for st in strategies)
              + f" | {result.rounds} |", flush=True)
    print(load_text() + " (after)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
