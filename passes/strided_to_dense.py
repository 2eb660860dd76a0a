"""strided-to-dense: a fully convolutional net that slides in steps of S -> the same net in steps of 1.

Identity (a trous, per axis): let S_l be the product of the strides before layer l. Set every stride to
1 and multiply layer l's dilation (Pool windows included) and pads by S_l: layer l then reads, around
each position, exactly the samples it read on the strided grid, so the output at every position p is
the strided net's output on the input shifted by p mod S (at position p div S), and positions that are
multiples of S are the strided net's own outputs. Same weights; S^2 times the outputs in 2-D.
Preconditions: every layer between the input and the outputs is a Conv, MaxPool, AveragePool (its
dilations need opset 19), LpPool or a per-position op, with one stride history per tensor; a Flatten or
Gemm head is an error (make it fully convolutional first).
"""
from __future__ import annotations

from dataclasses import dataclass

import onnx_graphsurgeon as gs

from onnxport.errors import UnsupportedGraph
from onnxport.passes._graph import GraphBuilder, text_attr
from onnxport.passes._registry import NoSettings, Pass, register
from onnxport.passes import conditions

WINDOWED = ("Conv", "MaxPool", "AveragePool", "LpPool")
STRIDE_BREAKERS = ("Flatten", "Gemm", "MatMul", "Reshape", "ConvTranspose", "Resize", "Upsample")


@dataclass(frozen=True)
class Match:
    nodes: tuple[gs.Node, ...]
    before: tuple[int, ...]        # product of the strides before this layer, per spatial axis


def _stride_into(root: gs.Tensor, rank: int, memo: dict) -> tuple[int, ...]:
    """The product of strides between the graph's inputs and root, per spatial axis (an explicit stack:
    a net can be thousands of layers deep)."""
    pending = [root]
    while pending:
        t = pending[-1]
        if t.name in memo:
            pending.pop()
            continue
        if not t.inputs or not t.inputs[0].inputs:
            memo[t.name] = (1,) * rank
            pending.pop()
            continue
        node = t.inputs[0]
        if node.op in STRIDE_BREAKERS:
            raise UnsupportedGraph(f"--dense: {node.op} '{node.name}' is not fully convolutional (make the head "
                                   f"convolutional first: --target fully-convolutional)")
        todo = [i for i in node.inputs if i.name and i.inputs and i.name not in memo]
        if todo:
            pending.extend(todo)
            continue
        pending.pop()
        found = {memo[i.name] for i in node.inputs if i.name and i.inputs}
        if len(found) > 1:
            raise UnsupportedGraph(f"--dense: '{node.name}' joins tensors of different strides {sorted(found)}")
        before = found.pop() if found else (1,) * rank
        if node.op in WINDOWED:
            strides = node.attrs.get("strides", [1] * rank)
            before = tuple(b * s for b, s in zip(before, strides))
        memo[t.name] = before
    return memo[root.name]


def output_strides(graph: gs.Graph) -> tuple[int, ...]:
    """The total stride of the net's outputs per spatial axis (what --dense divides positions by)."""
    ranks = [len(t.shape) - 2 for t in graph.inputs if t.shape is not None and len(t.shape) > 2]
    if not ranks:
        raise UnsupportedGraph("--dense: no input with spatial axes")
    found = {_stride_into(t, ranks[0], {}) for t in graph.outputs}
    if len(found) != 1:
        raise UnsupportedGraph(f"--dense: the outputs have {'no' if not found else 'different'} spatial strides")
    return found.pop()


def match(graph: gs.Graph, node: gs.Node, settings: NoSettings):
    kernel = node.attrs.get("kernel_shape") or (node.inputs[1].shape[2:] if node.op == "Conv" else None)
    if kernel is None:
        return None
    rank = len(kernel)
    before = _stride_into(node.inputs[0], rank, {})
    strides = node.attrs.get("strides", [1] * rank)
    if all(b == 1 for b in before) and all(s == 1 for s in strides):
        return None
    auto_pad = text_attr(node, "auto_pad", "NOTSET")
    if auto_pad not in ("NOTSET", "VALID"):
        raise UnsupportedGraph(f"--dense: '{node.name}' uses auto_pad {auto_pad}, whose pads follow the stride")
    if node.op == "AveragePool" and int(graph.opset) < 19 and any(b > 1 for b in before):
        raise UnsupportedGraph(f"--dense: AveragePool '{node.name}' needs dilations, which AveragePool has "
                               f"only from opset 19 (this model: {graph.opset})")
    return Match((node,), before)


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> None:
    node = m.nodes[0]
    rank = len(m.before)
    dilations = node.attrs.get("dilations", [1] * rank)
    node.attrs["dilations"] = [d * s for d, s in zip(dilations, m.before)]
    node.attrs["strides"] = [1] * rank
    if "pads" in node.attrs:
        node.attrs["pads"] = [p * s for p, s in zip(node.attrs["pads"], list(m.before) * 2)]


PASS = register(Pass(
    name="strided-to-dense",
    summary="strided fully convolutional net -> stride 1 with dilations multiplied (a trous): outputs at every position",
    anchor_ops=WINDOWED,
    match=match,
    rewrite=rewrite,
    ensures=(conditions.strided_window,),
    matches=Match,
    doc=__doc__,
))
