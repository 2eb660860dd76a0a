"""fuse-lowered: a chain onnxport lowered -> the single node it came from (exact).

Identity: the chain was produced by lowering node(x, ...) with the recorded attributes; the recipe is
lowered again with coded weights and must reproduce the chain node for node (passes._recipes), which
also reads the weights back. Replacing a chain by the node whose exact lowering it is computes the
same thing. The node gets back its name, its attributes as they were (auto_pad, output_shape, Resize
modes and all) and the names of its constant inputs.
Preconditions: a recipe in Recipes.recipes whose output is this node's output; the chain unchanged
since (same ops, attributes and constants) and no interior tensor used outside it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.passes._graph import GraphBuilder
from onnxport.passes._recipes import rebuilt_nodes, recognise
from onnxport.passes._registry import Pass, Recipes, Skip, register


@dataclass(frozen=True)
class Match:
    nodes: tuple[gs.Node, ...]
    recipe: dict
    y: gs.Tensor
    inputs: list


def match(graph: gs.Graph, node: gs.Node, settings: Recipes):
    y = node.outputs[0] if node.outputs else None
    rec = next((r for r in settings.recipes if y is not None and r["y"] == y.name), None)
    if rec is None or node.op == rec["op"]:          # nothing recorded here, or folded already
        return None
    found = recognise(graph, y, rec)
    if isinstance(found, str):
        return Skip(f"recorded {rec['op']} '{rec['node']}' not folded back: {found}")
    return Match(found.nodes, rec, y, found.inputs)


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> dict:
    inputs = [gs.Constant(_free(b, entry["name"]), value) if isinstance(value, np.ndarray) else value
              for entry, value in zip(m.recipe["inputs"], m.inputs)]
    tensors = graph.tensors()               # before the chain lets go of them
    for node in m.nodes:
        node.inputs.clear()
        node.outputs.clear()
    graph.nodes.extend(rebuilt_nodes(m.recipe, inputs, m.y, name=lambda wanted: _free(b, wanted), tensors=tensors))
    return {"folded": m.y.name}


def _free(b: GraphBuilder, wanted: str) -> str:
    """The recorded name where nothing took it since, else a fresh one."""
    if wanted and wanted not in b.taken:
        b.taken.add(wanted)
        return wanted
    return b.name(wanted or "fused")


PASS = register(Pass(
    name="fuse-lowered",
    summary="a chain onnxport lowered (ConvTranspose strategies, Resize chains) -> the node it came from, exact",
    anchor_ops=None,
    match=match,
    rewrite=rewrite,
    ensures=(),  # it folds recipes back into the op they came from; verification compares the result
    matches=Match,
    settings=Recipes,
    doc=__doc__,
))
