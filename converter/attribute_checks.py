"""Attributes that disagree with a node's own inputs, refused before any work.

onnx.checker reads each attribute alone and strict shape inference needs known input sizes, so a Conv
whose kernel_shape says 999x999x999 while its weight is 3x3x3 passes both on a dynamic export; onnxruntime
refuses it at load, but a size search, a shape evaluation or a reference fallback may first spend minutes
on it. Here every windowed op (Conv, ConvTranspose, the pools) and Resize is checked against what its
constant inputs say: lengths of kernel_shape/strides/pads/dilations/output_padding against the spatial
rank, signs, group against the channels, Resize scales/sizes against the rank. One line names the node.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from onnxport.errors import BadInput

WINDOWED = ("Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool")


def check_attributes(model: onnx.ModelProto, label: str) -> None:
    """BadInput naming the first node whose attributes contradict its inputs (main graph; subgraphs are
    left to the checker and the runtime)."""
    weights = {t.name: tuple(t.dims) for t in model.graph.initializer}
    constants = {t.name: t for t in model.graph.initializer}
    ranks = {vi.name: len(vi.type.tensor_type.shape.dim) for vi in [*model.graph.input, *model.graph.value_info]
             if vi.type.HasField("tensor_type") and vi.type.tensor_type.HasField("shape")}
    for node in model.graph.node:
        for out in node.output:
            if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
                weights[out] = tuple(node.attribute[0].t.dims)
                constants[out] = node.attribute[0].t
        if node.domain not in ("", "ai.onnx"):
            continue
        why = None
        if node.op_type in WINDOWED:
            why = _windowed(node, weights, ranks)
        elif node.op_type == "Resize":
            why = _resize(node, constants, ranks)
        if why:
            name = node.name or (node.output[0] if node.output else "?")
            raise BadInput(f"{label}: node '{name}' ({node.op_type}): {why}")


def _ints(node: onnx.NodeProto) -> dict[str, list[int]]:
    return {a.name: list(a.ints) if a.type == onnx.AttributeProto.INTS else [a.i] for a in node.attribute
            if a.type in (onnx.AttributeProto.INTS, onnx.AttributeProto.INT)}


def _windowed(node: onnx.NodeProto, weights: dict, ranks: dict) -> str | None:
    attrs = _ints(node)
    weight = weights.get(node.input[1]) if node.op_type.startswith("Conv") and len(node.input) > 1 else None
    spatial = len(weight) - 2 if weight is not None and len(weight) >= 3 else None
    if spatial is None and node.input and node.input[0] in ranks and ranks[node.input[0]] >= 3:
        spatial = ranks[node.input[0]] - 2
    kernel = attrs.get("kernel_shape")
    if spatial is None and kernel is not None:
        spatial = len(kernel)
    if spatial is None:
        return None
    if weight is not None and kernel is not None and tuple(kernel) != weight[2:]:
        return f"kernel_shape {kernel} disagrees with its weight's {'x'.join(map(str, weight[2:]))}"
    expected = {"kernel_shape": spatial, "strides": spatial, "dilations": spatial, "pads": 2 * spatial,
                "output_padding": spatial, "output_shape": spatial}
    for key, length in expected.items():
        values = attrs.get(key)
        if values is None:
            continue
        if key != "output_shape" and len(values) != length:
            return f"{key} has {len(values)} values, its {spatial} spatial dims need {length}"
        smallest = 0 if key in ("pads", "output_padding", "output_shape") else 1
        if any(v < smallest for v in values):
            return f"{key} {values}: each must be at least {smallest}"
    group = attrs.get("group", [1])[0]
    if group < 1:
        return f"group {group}: must be at least 1"
    if weight is not None:
        features = weight[0]                  # Conv: output channels; ConvTranspose: input channels
        if features % group:
            which = "output" if node.op_type == "Conv" else "input"
            return f"group {group} does not divide its weight's {features} {which} channels"
    if node.op_type == "ConvTranspose" and "output_padding" in attrs:
        strides, dilations = attrs.get("strides", [1] * spatial), attrs.get("dilations", [1] * spatial)
        if any(p >= max(s, d) for p, s, d in zip(attrs["output_padding"], strides, dilations)):
            return f"output_padding {attrs['output_padding']} must be below the stride or dilation of each axis"
    return None


def _resize(node: onnx.NodeProto, constants: dict, ranks: dict) -> str | None:
    rank = ranks.get(node.input[0]) if node.input else None
    axes = _ints(node).get("axes")
    for index, what in ((2, "scales"), (3, "sizes")):
        if len(node.input) <= index or node.input[index] not in constants:
            continue
        values = np.ravel(numpy_helper.to_array(constants[node.input[index]]))
        if not values.size:
            continue
        length = len(axes) if axes is not None else rank
        if length is not None and values.size != length:
            return f"{what} has {values.size} values for {length} {'listed axes' if axes is not None else 'dims'}"
        if np.any(values <= 0) or not np.all(np.isfinite(values.astype(np.float64))):
            return f"{what} {values.tolist()}: each must be positive and finite"
    return None
