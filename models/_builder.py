"""A tiny model builder so that each example net reads like its architecture, not like protobuf.

Weights come from a seeded numpy generator, so every build is byte-identical; models are stamped with
an explicit opset and an IR version the installed onnxruntime reads (onnx >= 1.23 would write 14).
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 10          # read by every onnxruntime >= 1.17; onnx's own default may be newer
PRODUCER = "onnxport.models"


class NetBuilder:
    def __init__(self, name: str, seed: int = 0, opset: int = 17):
        self.name = name
        self.opset = opset
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self._count: dict[str, int] = {}

    def _name(self, stem: str) -> str:
        self._count[stem] = self._count.get(stem, 0) + 1
        return f"{stem}_{self._count[stem]}"

    def input(self, name: str, shape, dtype=TensorProto.FLOAT) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, dtype, shape))
        return name

    def output(self, tensor: str, shape=None, dtype=TensorProto.FLOAT) -> str:
        self.outputs.append(helper.make_tensor_value_info(tensor, dtype, shape))
        return tensor

    def const(self, array, stem: str = "const") -> str:
        name = self._name(stem)
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def const_as(self, array, how: str, stem: str = "const") -> str:
        """A constant the way exporters write it: "initializer", a "constant" node, or behind an
        "identity" or a "cast" (stored as float16, cast back), as PyTorch/tf2onnx graphs carry weights."""
        array = np.asarray(array)
        if how == "initializer":
            return self.const(array, stem)
        if how == "constant":
            out = self._name(stem)
            self.nodes.append(helper.make_node("Constant", [], [out], name=out + "_node",
                                               value=numpy_helper.from_array(array, out)))
            return out
        if how == "identity":
            return self.op("Identity", [self.const(array, stem)], stem + "_id")
        if how == "cast":
            half = self.const(array.astype(np.float16), stem + "_fp16")
            return self.op("Cast", [half], stem, to=TensorProto.FLOAT)
        raise ValueError(f"unknown constant form {how}")

    def weight(self, shape, fan_in: int, stem: str = "w", gain: float = 1.0) -> str:
        """He-style random weights: outputs stay O(1) through deep stacks (gain < 1 for residual branches)."""
        w = self.rng.standard_normal(shape) * np.sqrt(2.0 / max(1, fan_in)) * gain
        return self.const(w.astype(np.float32), stem)

    def bias(self, n: int, stem: str = "b") -> str:
        return self.const((0.1 * self.rng.standard_normal(n)).astype(np.float32), stem)

    def op(self, op_type: str, inputs, stem: str | None = None, **attrs) -> str:
        stem = stem or op_type.lower()
        out = self._name(stem)
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], name=out + "_node", **attrs))
        return out

    # layers that the example nets share
    def conv(self, x: str, cin: int, cout: int, kernel, stem="conv", bias=True, gain: float = 1.0, **attrs) -> str:
        kernel = list(kernel)
        group = attrs.get("group", 1)
        w = self.weight([cout, cin // group] + kernel, cin // group * int(np.prod(kernel)), stem + "_w", gain)
        inputs = [x, w] + ([self.bias(cout, stem + "_b")] if bias else [])
        return self.op("Conv", inputs, stem, kernel_shape=kernel, **attrs)

    def conv_transpose(self, x: str, cin: int, cout: int, kernel, stem="deconv", bias=True, **attrs) -> str:
        kernel = list(kernel)
        group = attrs.get("group", 1)
        w = self.weight([cin, cout // group] + kernel, cin // group * int(np.prod(kernel)), stem + "_w")
        inputs = [x, w] + ([self.bias(cout, stem + "_b")] if bias else [])
        return self.op("ConvTranspose", inputs, stem, kernel_shape=kernel, **attrs)

    def batch_norm(self, x: str, channels: int, stem="bn") -> str:
        scale = self.const((1 + 0.1 * self.rng.standard_normal(channels)).astype(np.float32), stem + "_scale")
        shift = self.const((0.1 * self.rng.standard_normal(channels)).astype(np.float32), stem + "_shift")
        mean = self.const((0.1 * self.rng.standard_normal(channels)).astype(np.float32), stem + "_mean")
        var = self.const((1 + 0.1 * self.rng.random(channels)).astype(np.float32), stem + "_var")
        return self.op("BatchNormalization", [x, scale, shift, mean, var], stem, epsilon=1e-5)

    def build(self, doc: str = "") -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)],
                                  producer_name=PRODUCER, doc_string=doc)
        model.ir_version = IR_VERSION
        _fill_output_shapes(model)
        onnx.checker.check_model(model)
        return model


def _fill_output_shapes(model: onnx.ModelProto) -> None:
    """Graph outputs declared without a shape get the inferred one (onnx.checker requires the field)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    by_name = {o.name: o for o in inferred.graph.output}
    for out in model.graph.output:
        if not out.type.tensor_type.HasField("shape"):
            out.type.CopyFrom(by_name[out.name].type)
