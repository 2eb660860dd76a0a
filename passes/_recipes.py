"""Recipes: what a lowering recorded, and recognising its chain again by lowering the recipe once more.

A lowering pass returns a recipe: the node (op, name, attributes), the pass that lowered it, its output,
and each input with its role: the data input ("data"), a computed tensor kept by name ("tensor"), a
small constant kept by value ("value": Resize scales, sizes, roi), a weight the chain carries ("coded"),
or an omitted optional input ("absent"). The pipeline keeps recipes in the model's metadata_props; a
fuse pass returns {"folded": output name} for each one it consumed.

To fold a chain back, the node is rebuilt in a scratch graph with every coded input replaced by
distinct large numbers (CODE_BASE + index, float64), lowered by the same pass, and the scratch chain is
compared with the graph node by node: same ops, same attributes, same structural constants, and every
coded constant must sit where the graph has a weight value (zeros where the code is 0). The codes say
which graph value is which weight element, so weights are read back without an inverse per strategy,
and a chain edited since it was lowered (other ops, constants, an interior tensor used elsewhere)
does not match and stays.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.errors import OnnxportError
from onnxport.passes import _driver, _registry
from onnxport.passes._graph import constant_value
from onnxport.passes.explicit_attributes import explicit

CODE_BASE = float(2**40)       # float64 represents CODE_BASE + i exactly for any realistic weight count
WEIGHT_ROLES = ["data", "coded", "coded"]              # Conv-like ops: X, W, B
RESIZE_ROLES = ["data", "value", "value", "value"]     # Resize: X, roi, scales, sizes


def _attrs(node: gs.Node) -> dict:
    return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in node.attrs.items()}


def _entry(t: gs.Tensor | None, role: str) -> dict:
    if t is None or not t.name:
        return {"role": "absent", "name": ""}
    entry = {"role": role, "name": t.name}
    if role in ("coded", "value"):
        value = np.asarray(constant_value(t))
        entry.update(shape=list(value.shape), dtype=value.dtype.name)
        if role == "value":
            entry["value"] = value.ravel().tolist()
    return entry


def then(rec: dict, node: gs.Node) -> dict:
    """rec with `node` (an activation taking rec's output, its other inputs constant) absorbed by the lowering:
    the chain now ends at node's output; "then" records node, and the name rec's own output had."""
    after = {"op": node.op, "node": node.name, "attrs": _attrs(node), "y": rec["y"],
             "inputs": [_entry(t, "value") for t in node.inputs[1:]]}
    return {**rec, "y": node.outputs[0].name, "then": after}


def recipe(node: gs.Node, pass_name: str, roles: list[str]) -> dict:
    """Record `node` before a lowering detaches it; roles[i] for input i ("coded" falls back to
    "tensor" for an input that is not constant)."""
    inputs = []
    for t, role in zip(node.inputs, roles):
        if role in ("coded", "value") and t.name and constant_value(t) is None:
            role = "tensor"
        inputs.append(_entry(t, role))
    return {"op": node.op, "node": node.name, "pass": pass_name, "y": node.outputs[0].name,
            "attrs": _attrs(node), "inputs": inputs}


@dataclass(frozen=True)
class Recognised:
    nodes: tuple[gs.Node, ...]               # the graph's chain, to be replaced
    inputs: list                             # the rebuilt node's inputs (graph tensors and new constants)


def recognise(graph: gs.Graph, y: gs.Tensor, rec: dict) -> Recognised | str:
    """The chain ending at y if lowering `rec` again reproduces it exactly, else why not."""
    tensors = graph.tensors()
    scratch = _lower_again(graph, y, rec, tensors)
    if isinstance(scratch, str):
        return scratch
    y2, codes = scratch
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    chain: dict[int, gs.Node] = {}
    why = _same(y, y2, pairs, chain, {})
    if why:
        return why
    escaped = _escapes(graph, chain, y)
    if escaped:
        return escaped
    values = _decode(pairs, codes)
    if isinstance(values, str):
        return values
    return Recognised(tuple(chain.values()), _rebuilt_inputs(rec, tensors, values))


def _lower_again(graph, y, rec, tensors):
    """Rebuild the node in a scratch graph with coded weights and lower it; (output, number of codes)."""
    inputs, graph_inputs, codes = [], [], 0
    for entry in rec["inputs"]:
        role, name = entry["role"], entry["name"]
        if role == "absent":
            inputs.append(gs.Variable.empty())
            continue
        if role in ("data", "tensor"):
            t = tensors.get(name)
            if t is None:
                return f"its input '{name}' is gone"
            var = gs.Variable(name, dtype=t.dtype, shape=t.shape)
            inputs.append(var)
            graph_inputs.append(var)
        elif role == "value":
            inputs.append(gs.Constant(name, np.asarray(entry["value"], entry["dtype"]).reshape(entry["shape"])))
        else:
            size = int(np.prod(entry["shape"]))
            inputs.append(gs.Constant(name, CODE_BASE + codes + np.arange(size, dtype=np.float64).reshape(entry["shape"])))
            codes += size
    y2 = gs.Variable(y.name, dtype=y.dtype, shape=y.shape)
    nodes = rebuilt_nodes(rec, inputs, y2)
    scratch = gs.Graph(nodes=nodes, inputs=graph_inputs, outputs=[y2], opset=graph.opset)
    try:
        report = _driver.apply(scratch, _registry.get(rec["pass"]), _registry.Options(relowering=True))
    except OnnxportError as e:          # a recipe that no longer lowers simply does not match; bugs keep their traceback
        return f"its recipe no longer lowers ({e})"
    if report.applied != 1:
        return "its recipe no longer lowers"
    return y2, codes


def _same(obs: gs.Tensor, ref: gs.Tensor, pairs, chain, memo) -> str:
    """'' if the graph computes obs exactly as the scratch computes ref; else where they part."""
    key = (id(obs), id(ref))
    if key not in memo:
        memo[key] = _compare(obs, ref, pairs, chain, memo)
    return memo[key]


def _compare(obs, ref, pairs, chain, memo) -> str:
    if isinstance(ref, gs.Constant):
        value = constant_value(obs)
        if value is None or value.shape != ref.values.shape:
            return f"'{obs.name}' is not the expected constant"
        pairs.append((ref.values, value))
        return ""
    if not ref.inputs:                       # the data input or a computed input: the same graph tensor
        return "" if obs.name == ref.name else f"'{obs.name}' is not '{ref.name}'"
    node_ref = ref.inputs[0]
    node_obs = obs.inputs[0] if len(obs.inputs) == 1 else None
    if node_obs is None or node_obs.op != node_ref.op or explicit(node_obs) != explicit(node_ref) \
            or len(node_obs.inputs) != len(node_ref.inputs) or len(node_obs.outputs) != len(node_ref.outputs):
        return f"'{obs.name}' is computed differently"
    for a, b in zip(node_obs.inputs, node_ref.inputs):
        if bool(a.name) != bool(b.name):
            return f"'{obs.name}' is computed differently"
        why = _same(a, b, pairs, chain, memo) if b.name else ""
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
            if not np.array_equal(np.asarray(ref, np.float64), obs64):
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


def rebuilt_nodes(rec: dict, inputs: list, y: gs.Tensor, name=lambda wanted: wanted,
                  tensors: dict | None = None) -> list[gs.Node]:
    """The recorded node (and the activation it absorbed, if any) computing y from `inputs`; name(wanted)
    gives each new node and tensor its name; the activation's constants are taken from `tensors` (the
    graph's) where they are still there with the recorded value."""
    after = rec.get("then")
    mid = y if after is None else gs.Variable(name(after["y"]), dtype=y.dtype)
    nodes = [gs.Node(rec["op"], name=name(rec["node"]), attrs=dict(rec["attrs"]), inputs=inputs, outputs=[mid])]
    if after is not None:
        extra = [gs.Variable.empty() if e["role"] == "absent" else _recorded_value(e, tensors or {}, name)
                 for e in after["inputs"]]
        nodes.append(gs.Node(after["op"], name=name(after["node"]), attrs=dict(after["attrs"]), inputs=[mid] + extra,
                             outputs=[y]))
    return nodes


def _recorded_value(entry: dict, tensors: dict, name) -> gs.Tensor:
    value = np.asarray(entry["value"], entry["dtype"]).reshape(entry["shape"])
    kept = tensors.get(entry["name"])
    if kept is not None and np.array_equal(constant_value(kept), value):
        return kept
    return gs.Constant(name(entry["name"]), value)


def _rebuilt_inputs(rec: dict, tensors: dict, values: np.ndarray) -> list:
    """The node's inputs: graph tensors by name, recorded values, and weights read back from the codes."""
    inputs, offset = [], 0
    for entry in rec["inputs"]:
        role = entry["role"]
        if role == "absent":
            inputs.append(gs.Variable.empty())
        elif role in ("data", "tensor"):
            inputs.append(tensors[entry["name"]])
        elif role == "value":
            inputs.append(np.asarray(entry["value"], entry["dtype"]).reshape(entry["shape"]))
        else:
            size = int(np.prod(entry["shape"]))
            inputs.append(values[offset:offset + size].reshape(entry["shape"]).astype(entry["dtype"]))
            offset += size
    return inputs
