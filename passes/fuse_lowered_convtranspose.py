"""fuse-lowered-convtranspose: a chain onnxport lowered -> the single ConvTranspose it came from (exact).

Identity: the chain was produced by lowering ConvTranspose(x, W, B) with the recorded attributes; the
recipe is lowered again with coded weights and must reproduce the chain node for node (passes._recipes),
which also reads W and B back. Replacing a chain by the op whose exact lowering it is computes the same
thing. The ConvTranspose gets back its name, its attributes as they were (auto_pad, output_shape and
all) and, for constant weights, its weight's name.
Preconditions: a recipe in Options.recipes whose output is this node's output; the chain unchanged
since (same ops, attributes and constants) and no interior tensor used outside it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_graphsurgeon as gs

from passes._graph import GraphBuilder
from passes._recipes import recognise
from passes._registry import Options, Pass, Skip, register


@dataclass(frozen=True)
class Match:
    nodes: tuple[gs.Node, ...]
    recipe: dict
    x: gs.Tensor
    y: gs.Tensor
    weight: np.ndarray | None
    bias: np.ndarray | None


def match(graph: gs.Graph, node: gs.Node, options: Options):
    y = node.outputs[0] if node.outputs else None
    rec = next((r for r in options.recipes if y is not None and r["y"] == y.name and r["op"] == "ConvTranspose"), None)
    if rec is None or node.op == "ConvTranspose":      # nothing recorded here, or folded already
        return None
    found = recognise(graph, y, rec)
    if isinstance(found, str):
        return Skip(f"recorded ConvTranspose '{rec['node']}' not folded back: {found}")
    return Match(found.nodes, rec, graph.tensors()[rec["x"]], y, found.weight, found.bias)


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> dict:
    tensors = graph.tensors()
    rec = m.recipe
    weight = tensors[rec["w"]] if m.weight is None else gs.Constant(_free(b, rec["w"]), m.weight)
    inputs = [m.x, weight]
    if m.bias is not None:
        inputs.append(gs.Constant(_free(b, rec["b"]), m.bias))
    elif rec["b"]:
        inputs.append(tensors[rec["b"]])
    for node in m.nodes:
        node.inputs.clear()
        node.outputs.clear()
    graph.nodes.append(gs.Node("ConvTranspose", name=_free(b, rec["node"]), attrs=dict(rec["attrs"]),
                               inputs=inputs, outputs=[m.y]))
    return {"folded": m.y.name}


def _free(b: GraphBuilder, wanted: str) -> str:
    """The recorded name where nothing took it since, else a fresh one."""
    if wanted and wanted not in b.taken:
        b.taken.add(wanted)
        return wanted
    return b.name(wanted or "fused")


PASS = register(Pass(
    name="fuse-lowered-convtranspose",
    summary="a chain onnxport lowered (sub-pixel, resize-conv, conv2d) -> the ConvTranspose it came from, exact",
    anchor_ops=None,
    match=match,
    rewrite=rewrite,
    doc=__doc__,
))
