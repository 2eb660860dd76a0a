"""What must not remain: node predicates shared by the targets (converter.pipeline) and the passes'
postconditions (Pass.ensures, checked by the driver on the nodes each rewrite wrote).

Each predicate takes a node and returns why it is what the name says, or None.
"""
from __future__ import annotations

from typing import Callable

import onnx_graphsurgeon as gs

from onnxport.passes import gelu_scale_last, reshape_allowzero_off
from onnxport.passes._graph import text_attr, weight_shape


def convtranspose_rank(node: gs.Node) -> int | None:
    """Spatial dims: the weight's rank - 2, else the kernel_shape attribute's length, else the input's
    rank - 2 (a weight computed in the graph has no static shape)."""
    shape = weight_shape(node.inputs[1])
    if shape is not None:
        return len(shape) - 2
    if node.attrs.get("kernel_shape"):
        return len(node.attrs["kernel_shape"])
    x = node.inputs[0].shape
    return len(x) - 2 if x is not None else None


def convtranspose_of_rank(ranks: frozenset[int] | None) -> Callable[[gs.Node], str | None]:
    def violation(node: gs.Node) -> str | None:
        if node.op != "ConvTranspose":
            return None
        rank = convtranspose_rank(node)
        if ranks is None or rank is None or rank in ranks:
            return f"ConvTranspose with {rank if rank is not None else '?'} spatial dims"
        return None
    return violation


def implicit_padding(node: gs.Node) -> str | None:
    if node.op != "ConvTranspose":
        return None
    auto_pad = text_attr(node, "auto_pad", "NOTSET")
    if auto_pad != "NOTSET" or node.attrs.get("output_shape"):
        return "ConvTranspose with " + (f"auto_pad {auto_pad}" if auto_pad != "NOTSET" else "output_shape")
    return None


def resize_over_three_axes(node: gs.Node) -> str | None:
    if node.op not in ("Resize", "Upsample"):
        return None
    shape = node.inputs[0].shape
    return f"Resize of a rank-{len(shape)} tensor" if shape is not None and len(shape) >= 5 else None


def gelu_scale_first(node: gs.Node) -> str | None:
    found = gelu_scale_last.scale_first(node) is not None
    return "GELU with its scale before the product (x * (0.5 * (1 + erf)))" if found else None


def reshape_allowzero(node: gs.Node) -> str | None:
    return "Reshape with allowzero=1" if reshape_allowzero_off.allowzero_set(node) else None


def dense_head(node: gs.Node) -> str | None:
    return f"a {node.op} head (the features are counted, not slid over)" if node.op in ("Flatten", "Gemm") else None


def of_spatial_rank(ops: tuple[str, ...], rank: int) -> Callable[[gs.Node], str | None]:
    def violation(node: gs.Node) -> str | None:
        if node.op not in ops:
            return None
        kernel = node.attrs.get("kernel_shape")
        if kernel is None and node.op == "Conv":
            kernel = (weight_shape(node.inputs[1]) or (None, None))[2:]
        return f"{node.op} with {rank} spatial dims" if kernel is not None and len(kernel) == rank else None
    return violation


def global_pool_of_rank(rank: int) -> Callable[[gs.Node], str | None]:
    def violation(node: gs.Node) -> str | None:
        shape = node.inputs[0].shape if node.op in ("GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool") else None
        return f"{node.op} over {rank} spatial dims" if shape is not None and len(shape) == rank + 2 else None
    return violation


def any_of(*violations: Callable[[gs.Node], str | None]) -> Callable[[gs.Node], str | None]:
    def violation(node: gs.Node) -> str | None:
        return next((why for why in (v(node) for v in violations) if why), None)
    return violation


def nearest_not_floor(node: gs.Node) -> str | None:
    if node.op != "Resize" or text_attr(node, "mode", "nearest") != "nearest":
        return None
    pair = (text_attr(node, "coordinate_transformation_mode", "half_pixel"),
            text_attr(node, "nearest_mode", "round_prefer_floor"))
    return None if pair == ("asymmetric", "floor") else f"nearest Resize in {pair[0]} + {pair[1]} form"


def symmetric_coordinates(node: gs.Node) -> str | None:
    symmetric = node.op == "Resize" and text_attr(node, "coordinate_transformation_mode", "") == "half_pixel_symmetric"
    return "Resize with coordinate_transformation_mode half_pixel_symmetric" if symmetric else None


def aspect_ratio_policy(node: gs.Node) -> str | None:
    policy = text_attr(node, "keep_aspect_ratio_policy", "stretch") if node.op == "Resize" else "stretch"
    return None if policy == "stretch" else f"Resize with keep_aspect_ratio_policy {policy}"


def op_is(*ops: str) -> Callable[[gs.Node], str | None]:
    def violation(node: gs.Node) -> str | None:
        return f"a {node.op}" if node.op in ops else None
    return violation


def implicit_window_padding(node: gs.Node) -> str | None:
    pad = text_attr(node, "auto_pad", "NOTSET") if node.op in ("Conv", "MaxPool", "AveragePool", "LpPool") else "NOTSET"
    return f"{node.op} with auto_pad {pad}" if pad != "NOTSET" else None


def implicit_resize_mode(node: gs.Node) -> str | None:
    return "Resize without its mode written" if node.op == "Resize" and "mode" not in node.attrs else None


def resize_by_sizes(node: gs.Node) -> str | None:
    given = node.op == "Resize" and len(node.inputs) > 3 and node.inputs[3].name
    return "Resize by sizes" if given else None


def strided_window(node: gs.Node) -> str | None:
    strides = node.attrs.get("strides", []) if node.op in ("Conv", "MaxPool", "AveragePool", "LpPool") else []
    return f"{node.op} with strides {list(strides)}" if any(s > 1 for s in strides) else None
