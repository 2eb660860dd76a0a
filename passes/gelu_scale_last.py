"""gelu-scale-last: GELU as x * (0.5 * (1 + erf(x/sqrt2))) -> (x * (1 + erf(x/sqrt2))) * 0.5 (exact).

Identity: multiplying by a power of two is exact in binary floating point (away from overflow and
the subnormal range), so fl(x * fl(c * t)) = fl(x * c * t) = c * fl(x * t) = fl(fl(x * t) * c) for
c = 2^k: the reordered product is bit-identical. torch.onnx's dynamo exporter (onnxscript) writes
GELU with the half first; OpenCV 4.14's ONNX importer crashes on that form (SIGSEGV, MONAI UNETR), while
the TorchScript exporter's order, scale last, imports and runs.
Preconditions: the inner Mul multiplies by a scalar power-of-two constant and feeds only the outer
Mul; its other factor is 1 + erf(...) (the GELU pattern, so no other product is touched).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.passes._graph import GraphBuilder, constant_value
from onnxport.passes._registry import NoSettings, Pass, register


@dataclass(frozen=True)
class Match:
    nodes: tuple[gs.Node, ...]          # the outer Mul, the inner Mul
    x: gs.Tensor                        # the outer factor
    erf_term: gs.Tensor                 # 1 + erf(...)
    scale: gs.Tensor                    # the power-of-two constant


def _producer(tensor: gs.Tensor, op: str) -> gs.Node | None:
    return tensor.inputs[0] if len(tensor.inputs) == 1 and tensor.inputs[0].op == op else None


def _power_of_two_scalar(tensor: gs.Tensor) -> bool:
    value = constant_value(tensor)
    if value is None or np.size(value) != 1 or not np.issubdtype(np.asarray(value).dtype, np.floating):
        return False
    mantissa, _ = np.frexp(np.asarray(value, np.float64).ravel()[0])
    return abs(mantissa) == 0.5


def _erf_term(tensor: gs.Tensor) -> bool:
    """1 + erf(...), in either order."""
    add = _producer(tensor, "Add")
    return add is not None and any(_producer(t, "Erf") is not None for t in add.inputs)


def scale_first(node: gs.Node) -> Match | None:
    """The GELU pattern with its scale inside, anchored at the outer Mul (also what the target checks)."""
    if node.op != "Mul":
        return None
    for x, inner_out in (node.inputs, node.inputs[::-1]):
        inner = _producer(inner_out, "Mul")
        if inner is None or len(inner_out.outputs) != 1:
            continue
        for scale, term in (inner.inputs, inner.inputs[::-1]):
            if _power_of_two_scalar(scale) and _erf_term(term):
                return Match((node, inner), x, term, scale)
    return None


def match(graph: gs.Graph, node: gs.Node, settings: NoSettings):
    found = scale_first(node)
    return found if found is not None and found.nodes[1].outputs[0] not in graph.outputs else None


def rewrite(graph: gs.Graph, m: Match, b: GraphBuilder) -> None:
    outer, inner = m.nodes
    product = inner.outputs[0]
    inner.inputs = [m.x, m.erf_term]
    product.shape = None                         # x * (1 + erf) may broadcast wider than 1 + erf
    outer.inputs = [product, m.scale]


PASS = register(Pass(
    name="gelu-scale-last",
    summary="GELU x * (0.5 * (1 + erf)) -> (x * (1 + erf)) * 0.5 (OpenCV reads only that order), exact",
    anchor_ops=("Mul",),
    match=match,
    rewrite=rewrite,
    ensures=(lambda node: "a GELU with its scale first" if scale_first(node) is not None else None,),
    matches=Match,
    doc=__doc__,
))
