"""The coreml and nnapi profiles against onnxruntime's own mobile usability checker
(`python -m onnxruntime.tools.check_onnx_model_mobile_usability`: the same steps, an onnxruntime basic
optimization that turns Constant nodes into initializers, shape inference, then its partitioning), on what
users convert: every net of the zoo of real exports (its primary export) and every example net, converted
for the profile at the sizes its refusal names (--fix-sizes, --allow-partial).

The checker judges op types, tensor rank and fixed sizes only; the profiles also check what the tables'
notes say (1-D/2-D Conv only, constant weights, Resize forms). So, per converted model:
- the op types the checker calls unsupported are exactly those onnxport leaves as "not among the
  supported ops";
- every op type the checker rejects for its rank, onnxport rejects for its rank too (onnxport also
  counts outputs: a Reshape that makes a rank-8 tensor cannot exist in CoreML either);
- where onnxport says the target is reached, the checker finds one partition holding every node.
Two quirks of the checker are undone here, each a misreading of its own inputs: it counts an absent
optional input (Resize's roi, named '') as a tensor of unknown size, and its CoreML table spells ArgMax
"Argmax", so it never finds the op the execution provider has a builder for.
"""
from __future__ import annotations

import onnx
import pytest
from onnxruntime.tools import onnx_model_utils
from onnxruntime.tools.mobile_helpers import usability_checker

from onnxport.converter import api, conversion
from onnxport.models import examples
from tests import zoo

CHECKERS = {
    "coreml": lambda m: usability_checker.check_coreml_partitions(m, True, "coreml_supported_mlprogram_ops.md"),
    "nnapi": lambda m: usability_checker.check_nnapi_partitions(m, True),
}
SOURCES = [("zoo", f) for _, _, f in zoo.PRIMARY] + [("example", name) for name in sorted(examples.EXAMPLES)]


def _model(kind: str, name: str) -> onnx.ModelProto:
    return zoo.load(name) if kind == "zoo" else examples.build(name)


@pytest.mark.parametrize("profile", sorted(CHECKERS))
@pytest.mark.parametrize("kind,name", SOURCES, ids=[n for _, n in SOURCES])
def test_the_profile_agrees_with_onnxruntimes_mobile_usability_checker(kind, name, profile, tmp_path):
    model = _model(kind, name)
    fixed = conversion.first_sizes(model, {}, zoo.FIXTURES if kind == "zoo" else None)
    converted, report = api.convert_model(model, targets=[profile], fix_sizes=fixed, timing=False)
    onnx.save(converted, tmp_path / "converted.onnx")
    onnx_model_utils.optimize_model(tmp_path / "converted.onnx", tmp_path / "optimized.onnx")
    optimized = onnx_model_utils.ModelProtoWithShapeInfo(tmp_path / "optimized.onnx").model_with_shape_info
    optimized.graph.value_info.append(onnx.helper.make_tensor_value_info("", onnx.TensorProto.FLOAT, [1]))
    info = CHECKERS[profile](optimized)
    unsupported = {op.split(":")[-1] for op in info.unsupported_ops} - ({"ArgMax"} if profile == "coreml" else set())
    ours = {v.op for v in report.remaining if v.why.endswith("is not among the supported ops")}
    ranked = {v.op for v in report.remaining if v.why.startswith("a tensor of rank")}
    assert unsupported == ours
    assert {op.split(":")[-1] for op in info.ops_with_unsupported_rank} <= ranked
    assert info.nodes_unsupported_due_to_dynamic_input == 0, "fixed sizes leave no dynamic input"
    if not report.remaining:
        assert (info.num_partitions, info.num_supported_nodes) == (1, info.num_nodes)
