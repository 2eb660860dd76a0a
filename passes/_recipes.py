"""Recipes: what a lowering recorded, and recognising its chain again by lowering the recipe once more.

A lowering pass returns a recipe (node name, attributes, the tensors at its boundary, the pass that
lowered it); the pipeline keeps recipes in the model's metadata_props, and a fuse pass returns
{"folded": output name} for each one it consumed. To fold a chain back, the recipe
is lowered again in a scratch graph with coded weights (every weight element a distinct large number,
CODE_BASE + index, in float64), and the scratch chain is compared with the graph node by node: same ops,
same attributes, same structural constants, and every coded constant must sit where the graph has a
weight value (and zeros where the code is 0). The codes then say which graph value is which weight
element, so the weights are read back without an inverse per strategy, and a chain edited since it was
lowered (other ops, other constants, an interior tensor used elsewhere) does not match and stays.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_graphsurgeon as gs

from passes import _driver, _registry
from passes._convtranspose import ConvTransposeMatch
from passes._graph import constant_value

CODE_BASE = float(2**40)       # float64 represents CODE_BASE + i exactly for any realistic weight count


def recipe(m: ConvTransposeMatch, pass_name: str) -> dict:
    """What a ConvTranspose lowering needs to be recognised later (JSON-able)."""
    node = m.nodes[0]
    return {"op": "ConvTranspose", "node": node.name, "pass": pass_name, "x": m.x.name, "y": m.y.name,
            "w": m.weight_tensor.name, "w_shape": [int(d) for d in m.weight_tensor.shape],
            "w_computed": m.weight is None,
            "b": node.inputs[2].name if len(node.inputs) > 2 else "",
            "b_constant": m.bias is not None,
            "attrs": {k: (v.decode() if isinstance(v, bytes) else v) for k, v in node.attrs.items()}}


@dataclass(frozen=True)
class Recognised:
    nodes: tuple[gs.Node, ...]       # the graph's chain, to be replaced
    weight: np.ndarray | None        # None: the recipe's weight tensor is used as is
    bias: np.ndarray | None


def recognise(graph: gs.Graph, y: gs.Tensor, rec: dict) -> Recognised | str:
    """The chain ending at y if lowering `rec` again reproduces it exactly, else why not."""
    tensors = graph.tensors()
    x = tensors.get(rec["x"])
    if x is None:
        return f"its input '{rec['x']}' is gone"
    scratch, coded = _lower_again(graph, x, y, rec, tensors)
    if isinstance(scratch, str):
        return scratch
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    chain: dict[int, gs.Node] = {}
    why = _same(y, scratch, x, tensors, rec, pairs, chain, {})
    if why:
        return why
    escaped = _escapes(graph, chain, y)
    if escaped:
        return escaped
    values = _decode(pairs, coded)
    if isinstance(values, str):
        return values
    w_size = int(np.prod(rec["w_shape"])) if not rec["w_computed"] else 0
    weight = values[:w_size].reshape(rec["w_shape"]).astype(y.dtype) if w_size else None
    bias = values[w_size:].astype(y.dtype) if rec["b_constant"] else None
    return Recognised(tuple(chain.values()), weight, bias)


def _lower_again(graph, x, y, rec, tensors):
    """Lower the recipe with coded weights in a scratch graph; returns (scratch output, number of codes)."""
    x2 = gs.Variable(x.name, dtype=x.dtype, shape=x.shape)
    inputs, codes = [x2], 0
    if rec["w_computed"]:
        w = tensors.get(rec["w"])
        if w is None:
            return f"its weight '{rec['w']}' is gone", 0
        inputs.append(gs.Variable(w.name, dtype=w.dtype, shape=w.shape))
    else:
        codes = int(np.prod(rec["w_shape"]))
        inputs.append(gs.Constant("w", CODE_BASE + np.arange(codes, dtype=np.float64).reshape(rec["w_shape"])))
    if rec["b_constant"]:
        channels = rec["w_shape"][1] * int(rec["attrs"].get("group", 1))
        inputs.append(gs.Constant("b", CODE_BASE + codes + np.arange(channels, dtype=np.float64)))
        codes += channels
    elif rec["b"]:
        b = tensors.get(rec["b"])
        if b is None:
            return f"its bias '{rec['b']}' is gone", 0
        inputs.append(gs.Variable(b.name, dtype=b.dtype, shape=b.shape))
    y2 = gs.Variable(y.name, dtype=y.dtype, shape=y.shape)
    node = gs.Node("ConvTranspose", name=rec["node"], attrs=dict(rec["attrs"]), inputs=inputs, outputs=[y2])
    scratch = gs.Graph(nodes=[node], inputs=[t for t in inputs if isinstance(t, gs.Variable)], outputs=[y2],
                       opset=graph.opset)
    try:
        report = _driver.apply(scratch, _registry.get(rec["pass"]), _registry.Options())
    except Exception as e:  # noqa: BLE001 - a recipe that no longer lowers simply does not match
        return f"its recipe no longer lowers ({e})", 0
    if report.applied != 1:
        return "its recipe no longer lowers", 0
    return y2, codes


def _same(obs: gs.Tensor, ref: gs.Tensor, x: gs.Tensor, tensors, rec, pairs, chain, memo) -> str:
    """'' if the graph computes obs exactly as the scratch computes ref; else where they part."""
    key = (id(obs), id(ref))
    if key in memo:
        return memo[key]
    memo[key] = why = _compare(obs, ref, x, tensors, rec, pairs, chain, memo)
    return why


def _compare(obs, ref, x, tensors, rec, pairs, chain, memo) -> str:
    if ref.name == x.name and not ref.inputs:
        return "" if obs is x else f"'{obs.name}' is not the recorded input"
    if isinstance(ref, gs.Constant):
        value = constant_value(obs)
        if value is None or value.shape != ref.values.shape:
            return f"'{obs.name}' is not the expected constant"
        pairs.append((ref.values, value))
        return ""
    if not ref.inputs:                       # a computed weight or bias: the same graph tensor
        return "" if obs.name == ref.name else f"'{obs.name}' is not '{ref.name}'"
    node_ref = ref.inputs[0]
    node_obs = obs.inputs[0] if len(obs.inputs) == 1 else None
    if node_obs is None or node_obs.op != node_ref.op or node_obs.attrs != node_ref.attrs \
            or len(node_obs.inputs) != len(node_ref.inputs) or len(node_obs.outputs) != len(node_ref.outputs):
        return f"'{obs.name}' is computed differently"
    for a, b in zip(node_obs.inputs, node_ref.inputs):
        why = _same(a, b, x, tensors, rec, pairs, chain, memo)
        if why:
            return why
    chain[id(node_obs)] = node_obs
    return ""


def _escapes(graph: gs.Graph, chain: dict[int, gs.Node], y: gs.Tensor) -> str:
    outputs = {t.name for t in graph.outputs}
    for node in chain.values():
        for t in node.outputs:
            if t is y:
                continue
            if t.name in outputs or any(id(c) not in chain for c in t.outputs):
                return f"its intermediate '{t.name}' is used outside the chain"
    return ""


def _decode(pairs, codes: int) -> np.ndarray | str:
    """Weight values by code; structural constants must match exactly, uncoded zeros must be zero."""
    values = np.full(codes, np.nan)
    seen = np.zeros(codes, bool)
    for ref, obs in pairs:
        obs64 = np.asarray(obs, np.float64)
        coded = ref >= CODE_BASE if np.issubdtype(ref.dtype, np.floating) else np.zeros(ref.shape, bool)
        if not coded.any():
            if not np.array_equal(ref.astype(obs64.dtype), obs64):
                return "a structural constant differs"
            continue
        if np.any(obs64[~coded] != 0):
            return "a weight has values where the lowering puts zeros"
        index = (ref[coded] - CODE_BASE).astype(np.int64)
        got = obs64[coded]
        first = ~seen[index]
        values[index[first]] = got[first]
        seen[index] = True
        if not np.array_equal(values[index], got):
            return "a weight element appears with two values"
    if not seen.all():
        return "some weight elements do not appear in the chain"
    return values
