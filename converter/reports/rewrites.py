"""What each rewrite did, for the report and its pictures: the original node, what replaced it, why.

A pass builds its replacement under the anchor node's name (passes._graph.GraphBuilder: `NODE/stem`), so
the replacement of node NODE is every node named NODE or NODE/... after conversion. Shapes are those at
the first verification size (report.macs_at). Passes of the explicit form (pipeline.EXPLICIT_FORM) only
write attributes out on every node and are not listed.
"""
from __future__ import annotations

import onnx
import onnx_graphsurgeon as gs

from onnxport.converter import shape_inference
from onnxport.passes import get_pass, writers


def snapshot(graph: gs.Graph, infos: dict) -> dict[str, dict]:
    """Every node described (name -> node_dict), taken before the passes change the graph."""
    return {n.name: node_dict(n, infos) for n in graph.nodes if n.name}


def node_dict(node: gs.Node, infos: dict) -> dict:
    def tensor(t: gs.Tensor) -> dict:
        vi = infos.get(t.name)
        dims = shape_inference.dims_of(vi) if vi is not None else None
        dims = dims if dims is not None else (list(t.shape) if t.shape is not None else None)
        return {"name": t.name, "shape": [d if isinstance(d, int) else str(d) for d in dims] if dims is not None
                else None, "constant": isinstance(t, gs.Constant)}
    return {"name": node.name, "op": node.op, "inputs": [tensor(t) for t in node.inputs if t.name],
            "outputs": [tensor(t) for t in node.outputs], "attributes": {k: _short(v) for k, v in node.attrs.items()}}


def _short(value) -> str:
    if isinstance(value, bytes):
        value = value.decode(errors="replace")
    if isinstance(value, (gs.Constant, onnx.TensorProto, gs.Graph, onnx.GraphProto)):
        return type(value).__name__
    text = str(list(value) if isinstance(value, tuple) else value)
    return text if len(text) <= 80 else text[:77] + "..."


def identity(pass_name: str) -> str:
    """The pass's stated identity (the docstring paragraph that starts 'Identity'), else its summary."""
    found = get_pass(pass_name)
    paragraphs = [" ".join(p.split()) for p in (found.doc or "").split("\n\n")]
    return next((p for p in paragraphs if p.startswith("Identity")), found.summary)


def describe(before: dict[str, dict], graph: gs.Graph, infos: dict, passes: list, skip: tuple[str, ...],
             macs_before: dict[str, int] | None) -> dict:
    """{'rewritten': [...], 'kept': [...]}: per rewritten node its before (with the nodes its match took in,
    an activation moved next to the Conv, so both pictures span the same inputs and outputs) and after, per
    kept one the reason."""
    total = sum(macs_before.values()) if macs_before else 0
    anchors = {name for report in passes if report.name not in skip for name in report.rewritten}
    written_by = writers(passes)
    written: dict[str, list[dict]] = {}
    for n in graph.nodes:                                  # one walk for every rewrite's replacement
        drawn = node_dict(n, infos)
        for anchor in _anchors_above(n.name, written_by, anchors):
            written.setdefault(anchor, []).append(drawn)
    rewritten, kept = [], []
    for report in passes:
        if report.name in skip:
            continue
        for name in report.rewritten:
            after = written.get(name, [])
            macs = (macs_before or {}).get(name)
            absorbed = [before[n] for n in report.absorbed.get(name, []) if n in before]
            rewritten.append({"node": name, "pass": report.name, "identity": identity(report.name),
                              "before": before.get(name), "absorbed": absorbed, "after": after, "macs": macs,
                              "written_by": written_by.get(name),
                              "macs_share": macs / total if macs is not None and total else None})
        kept += [{"node": node, "pass": report.name, "reason": reason} for node, reason in report.skipped]
    return {"rewritten": rewritten, "kept": kept}


def _anchors_above(name: str, written_by: dict[str, str], anchors: set[str]) -> list[str]:
    """Every rewrite `name` descends from: itself if a rewrite kept it, then each anchor up the chain of
    writers (a Conv the sub-pixel rewrite wrote and conv3d-to-conv2d rewrote again is part of both
    rewrites' after pictures, so the first one's picture spans its whole replacement)."""
    found, seen = ([name] if name in anchors else []), set()
    while name in written_by and name not in seen:
        seen.add(name)
        name = written_by[name]
        if name in anchors:
            found.append(name)
    return found
