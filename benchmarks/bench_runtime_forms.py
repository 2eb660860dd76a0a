"""The exact ConvTranspose forms on each runtime: what --strategy auto chooses between where users deploy.

Per runtime (onnxruntime on the CPU, and every runtime of converter.runtimes installed here but the ones
that convert per load, tflite and onnx2torch) and per layer (a 3-D ConvTranspose and a Relu, the layers
of bench_convtranspose.py): each exact form (subpixel, convtranspose2d, resize-conv), the floor (the
sub-pixel form's Convs alone: what any form must compute) and the native op where the runtime's profile
lets it run (onnxruntime; OpenVINO and tract; not MNN, whose 3-D ConvTranspose is wrong with a bias, nor
OpenCV, which lacks it), all in one set of interleaved rounds on that runtime, each form timed inside the
runtime's worker (converter.timing, RuntimeSession.timer: the pipe is not counted). Printed per row: the
floor's ms, each form / floor as median (min-max) over the rounds, and the form --strategy auto picks
there by its own rule (auto_strategy.pick) with its ratio to the floor and to native. A form the runtime
cannot load prints `refused`.

    python benchmarks/bench_runtime_forms.py [--runtimes onnxruntime,openvino,opencv,tract,mnn] [--budget 10]
"""
from __future__ import annotations

import contextlib
import os
import sys

import onnx

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.bench_convtranspose import LAYERS, conv_only  # noqa: E402
from benchmarks.common import compare, describe, load_text, random_input, session, timing_parser  # noqa: E402
from onnxport.converter import api, auto_strategy, profiles, runtimes  # noqa: E402
from onnxport.converter.verification import timing
from onnxport.converter.runtimes.session import RuntimeFailure, RuntimeSession  # noqa: E402
from onnxport.errors import BadArgument  # noqa: E402
from onnxport.models import convtranspose  # noqa: E402

FORMS = auto_strategy.PREFERENCE
CONVERTING_PER_LOAD = {"tflite", "onnx2torch"}       # minutes per form: not what this table is about


def timers(runtime: str, models: dict, feeds: dict, threads: int, stack: contextlib.ExitStack) -> tuple[dict, dict]:
    """(form -> timer(repeats) -> median ms, form -> why the runtime refused it)."""
    found, refused = {}, {}
    for form, model in models.items():
        if runtime == "onnxruntime":
            run = session(model, "cpu", threads).run
            found[form] = lambda repeats, run=run: timing._sample_ms(lambda: run(None, feeds), repeats)
            continue
        try:
            worker = RuntimeSession(runtime, with_output_shapes(model))
            stack.callback(worker.close)
            found[form] = worker.timer(feeds)
            found[form](1)                      # a form the runtime loads but cannot run is refused too
        except RuntimeFailure as e:
            found.pop(form, None)
            refused[form] = str(e)[:120]
    return found, refused


def with_output_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with its outputs' shapes stated (OpenCV loads no output without one)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    known = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    stated = onnx.ModelProto()
    stated.CopyFrom(model)
    for output in stated.graph.output:
        if output.name in known and known[output.name].type.tensor_type.HasField("shape"):
            output.type.CopyFrom(known[output.name].type)
    return stated


def native_allowed(runtime: str, model) -> bool:
    if runtime == "onnxruntime":
        return True
    from onnxport.converter import shape_inference
    from onnxport.converter.files import graph_io
    graph = graph_io.to_graph(model)
    shape_inference.annotate(graph)
    profile = profiles.load(runtime)
    return not any(profile.forbids(n) for n in graph.nodes if n.op == "ConvTranspose")


def row(runtime: str, label: str, model, feeds: dict, args) -> str:
    models = {f: api.convert_model(model, strategy=f)[0] for f in FORMS}
    models["floor"] = conv_only(models["subpixel"])
    if native_allowed(runtime, model):
        models["native"] = model
    with contextlib.ExitStack() as stack:
        found, refused = timers(runtime, models, feeds, args.threads, stack)
        if "floor" not in found:
            return f"| {runtime} | {label} | floor refused: {refused.get('floor', '')} |"
        allowed = [f for f in FORMS if f in found]
        result = compare(found, allowed[0] if allowed else "floor", budget_s=args.budget,
                         sample=lambda timer, repeats: timer(repeats))
    to_floor = result.ratios_to("floor")
    cells = [to_floor[f].text() if f in found else "refused" for f in (*FORMS, "native")]
    if "native" not in models:
        cells[-1] = "-"
    chosen = auto_strategy.pick(result, allowed) if allowed else "-"
    picked_native = f"{result.ratios_to('native')[chosen].text()}" if allowed and "native" in found else "-"
    picked_floor = to_floor[chosen].text() if allowed else "-"
    return (f"| {runtime} | {label} | {result.ms['floor'].median:.2f} | " + " | ".join(cells)
            + f" | {chosen} | {picked_floor} | {picked_native} | {result.rounds} |")


def main(argv=None) -> int:
    ap = timing_parser(__doc__)
    ap.add_argument("--runtimes", default="onnxruntime," + ",".join(r for r in runtimes.RUNTIMES
                                                                     if r not in CONVERTING_PER_LOAD))
    ap.add_argument("--layers", type=int, default=len(LAYERS), help="the first N layers")
    args = ap.parse_args(argv)
    print(describe("cpu", args.threads) + "; other runtimes with their default threads")
    print(load_text() + " (before)")
    print("| runtime | layer | floor ms | " + " | ".join(f"{f} / floor" for f in (*FORMS, "native"))
          + " | auto picks | picked / floor | picked / native | rounds |")
    print("|---" * (9 + len(FORMS)) + "|")
    for runtime in args.runtimes.split(","):
        if runtime != "onnxruntime":
            try:
                runtimes.info(runtime)
            except BadArgument as e:
                print(f"| {runtime} | not installed: {e} |")
                continue
        for name, cin, cout, k, s, p, op, size in LAYERS[:args.layers]:
            model = convtranspose.build([size] * 3, cin, cout, [k] * 3, strides=[s] * 3, pads=[p] * 6,
                                        output_padding=[op] * 3, consumer="Relu")
            print(row(runtime, name, model, {"X": random_input([1, cin] + [size] * 3)}, args), flush=True)
    print(load_text() + " (after)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
