"""pad-inputs-to-valid: pad each input up to the next admissible size, crop size-preserving outputs back.

Identity: a net that loses nothing at sizes m + k*n (converter.admissible_sizes) computes, at an admissible size,
exactly what it did; at any other size n >= 1 the input is padded at the end to
n' = max(m, m + k*ceil((n - m)/k)) and every output whose length followed the input's is cropped back
to [0, n). At admissible sizes the pad is 0 and the crop keeps everything, so the model is unchanged
there; elsewhere the result is by construction the net run on the padded input, cropped. The pad is
computed from Shape (no size baked in); mode constant (zeros), edge or reflect.
Needs PadToValid.valid_sizes (from converter.admissible_sizes) and PadToValid.pad_mode.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.passes._graph import GraphBuilder
from onnxport.passes._registry import PadToValid, Pass, Skip, register

PAD_MODES = ("constant", "edge", "reflect")


@dataclass(frozen=True)
class ValidSize:
    input: str
    axis: int
    minimum: int
    step: int                                       # 0: one size only
    outputs: tuple[tuple[str, int], ...] = ()       # outputs whose length follows this axis, with their axis


@dataclass(frozen=True)
class Match:
    nodes: tuple
    plans: tuple[ValidSize, ...]
    mode: str


def match(graph: gs.Graph, _node, settings: PadToValid):
    if not settings.valid_sizes:
        return None
    if settings.pad_mode not in PAD_MODES:
        return Skip(f"unknown pad mode {settings.pad_mode} ({', '.join(PAD_MODES)})")
    return Match((), tuple(settings.valid_sizes), settings.pad_mode)


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> None:
    inputs = {t.name: t for t in graph.inputs}
    outputs = {t.name: t for t in graph.outputs}
    lengths = {}                                    # (input, axis) -> its length before padding
    for name in dict.fromkeys(p.input for p in m.plans):
        x = inputs[name]
        plans = {p.axis: p for p in m.plans if p.input == name}
        consumers = list(x.outputs)
        shape = b.op("Shape", [x], stem="input_shape", dtype=np.int64, shape=[len(x.shape)])
        ends = []
        for axis in range(len(x.shape)):
            if axis not in plans:
                ends.append(b.ints([0], "zero"))
                continue
            n = b.op("Gather", [shape, b.ints([axis], "axis")], {"axis": 0}, stem="length", dtype=np.int64, shape=[1])
            lengths[(name, axis)] = n
            ends.append(_pad_amount(b, n, plans[axis]))
        pads = b.op("Concat", [b.ints([0] * len(x.shape), "begin")] + ends, {"axis": 0}, stem="pads", dtype=np.int64)
        padded = b.op("Pad", [x, pads], {"mode": m.mode}, stem="padded", dtype=x.dtype)
        for consumer in consumers:
            for i, t in enumerate(consumer.inputs):
                if t is x:
                    consumer.inputs[i] = padded
    for plan in m.plans:
        for out_name, axis in plan.outputs:
            _crop_back(b, outputs[out_name], axis, lengths[(plan.input, plan.axis)])


def _pad_amount(b: GraphBuilder, n: gs.Tensor, plan: ValidSize) -> gs.Tensor:
    """max(m - n, (k - (n - m) mod k) mod k); m - n where only m is admissible (never negative there)."""
    short = b.op("Sub", [b.ints([plan.minimum], "minimum"), n], stem="short", dtype=np.int64)
    if plan.step == 0:
        return b.op("Max", [short, b.ints([0], "zero")], stem="pad", dtype=np.int64)
    k = b.ints([plan.step], "step")
    over = b.op("Sub", [n, b.ints([plan.minimum], "minimum")], stem="over", dtype=np.int64)
    behind = b.op("Mod", [over, k], stem="behind", dtype=np.int64)
    to_next = b.op("Mod", [b.op("Sub", [k, behind], stem="gap", dtype=np.int64), k], stem="to_next", dtype=np.int64)
    return b.op("Max", [short, to_next], stem="pad", dtype=np.int64)


def _crop_back(b: GraphBuilder, y: gs.Tensor, axis: int, n: gs.Tensor) -> None:
    """y keeps its name: its producer now writes an inner tensor that a Slice crops to [0, n) into y."""
    producer = y.inputs[0]
    inner = gs.Variable(b.name("uncropped"), dtype=y.dtype)
    producer.outputs[producer.outputs.index(y)] = inner
    b.op("Slice", [inner, b.ints([0], "starts"), n, b.ints([axis], "axes")], stem="cropped", dtype=y.dtype, output=y)


PASS = register(Pass(
    name="pad-inputs-to-valid",
    summary="pad inputs to the next admissible size (m + k*n) and crop size-preserving outputs back",
    anchor_ops=(),
    match=match,
    rewrite=rewrite,
    ensures=(),  # graph-level: pads inputs and crops outputs; the driver's output checks apply
    matches=Match,
    settings=PadToValid,
    doc=__doc__,
    min_opset=11,
))
