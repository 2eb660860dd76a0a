"""Round trips: every strategy's chain folds back into the ConvTranspose it came from, and edits stop it."""
import numpy as np
import onnx
import pytest
from hypothesis import given, settings, strategies as st
from onnx import helper, numpy_helper

from onnxport.converter import api, pipeline
from onnxport.converter.files import recipe_store
from onnxport.models import convtranspose, examples
from tests.helpers import assert_equivalent, count_ops, run_pass
from tests.passes.convtranspose_cases import GRID, node_test_cases, random_models

STRATEGY_TARGETS = {"subpixel": ["no-convtranspose"], "resize-conv": ["no-convtranspose"], "convtranspose2d": ["no-convtranspose3d"]}


def lower(model, strategy):
    """The model lowered with `strategy`; the lowering must have rewritten something, or fusing back would
    round-trip a model nothing was done to."""
    out, report = api.convert_model(model, targets=STRATEGY_TARGETS[strategy], strategy=strategy)
    assert any(p.applied for p in report.passes if p.name != "explicit-attributes"), report.text()
    assert [n.op_type for n in out.graph.node] != [n.op_type for n in model.graph.node]
    return out


def assert_round_trip(model, back):
    """Same node count and op types, the same attributes (in the explicit form on both sides, as convert
    writes them), weights equal within 1e-6, and equivalent."""
    assert [n.op_type for n in back.graph.node] == [n.op_type for n in model.graph.node]
    explicit = model
    for name in pipeline.EXPLICIT_FORM:
        explicit, _ = run_pass(explicit, name)
    values = lambda node: {a.name: helper.get_attribute_value(a) for a in node.attribute}
    for a, b in zip(explicit.graph.node, back.graph.node):
        assert (a.name, values(a)) == (b.name, values(b))
    weights = lambda m: {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    before, after = weights(model), weights(back)
    assert before.keys() == after.keys()
    for name in before:
        assert np.max(np.abs(before[name] - after[name]), initial=0) <= 1e-6
    assert_equivalent(model, back, runs=2)


def grid_cases():
    return [pytest.param(s, c, id=f"{s}-{c}") for s in STRATEGY_TARGETS for c in sorted(GRID)
            if s != "convtranspose2d" or len(GRID[c]["spatial"]) == 3]


@pytest.mark.parametrize("strategy, case", grid_cases())
def test_every_strategy_folds_back(strategy, case):
    model = convtranspose.build(**GRID[case])
    lowered = lower(model, strategy)
    assert count_ops(lowered, "ConvTranspose", spatial_rank=3 if strategy == "convtranspose2d" else None) == 0
    back, report = api.convert_model(lowered, fuse=True)
    assert_round_trip(model, back)
    assert not recipe_store.load(back)                  # the recipe was consumed


# convtranspose2d rewrites 3-D ConvTransposes only: keras_gan2d's 2-D ones give it nothing to round-trip
@pytest.mark.parametrize("name, strategy", [(n, s) for n in ("gan3d", "keras_gan2d", "unet3d")
                                            for s in sorted(STRATEGY_TARGETS)
                                            if (n, s) != ("keras_gan2d", "convtranspose2d")])
def test_every_convtranspose_example_round_trips(strategy, name):
    model = examples.build(name)
    back, _ = api.convert_model(lower(model, strategy), fuse=True)
    assert_round_trip(model, back)


@settings(max_examples=40)
@given(random_models(), st.integers(0, 1000), st.sampled_from(["subpixel", "resize-conv"]))
def test_random_configurations_round_trip(case, seed, strategy):
    cfg, _ = case
    model = convtranspose.build(**cfg, seed=seed)
    back, _ = api.convert_model(lower(model, strategy), fuse=True)
    assert [n.op_type for n in back.graph.node] == [n.op_type for n in model.graph.node]


@pytest.mark.parametrize("case, constant_weights",
                         [c for c in node_test_cases() if c.values[0].name == "test_convtranspose_3d"])
def test_a_weight_given_as_graph_input_folds_back(case, constant_weights):
    model = onnx.ModelProto()
    model.CopyFrom(case.model)
    back, _ = api.convert_model(lower(model, "subpixel"), fuse=True)
    assert [n.op_type for n in back.graph.node] == ["ConvTranspose"]
    assert list(back.graph.node[0].input) == list(model.graph.node[0].input)


def test_an_edited_chain_is_left_alone():
    model = convtranspose.build(["D", "H", "W"], kernel=[3, 3, 3], strides=[2, 2, 2], pads=[1] * 6)
    lowered = lower(model, "subpixel")
    weight = next(i for i in lowered.graph.initializer if "weight" in i.name)
    arr = numpy_helper.to_array(weight).copy()
    arr[np.nonzero(arr == 0)[0][0], ...] += 1.0          # a value where the lowering put a zero tap
    weight.CopyFrom(numpy_helper.from_array(arr, weight.name))
    back, report = api.convert_model(lowered, fuse=True)
    assert count_ops(back, "ConvTranspose") == 0
    skipped = [r for p in report.passes for _, r in p.skipped]
    assert any("not folded back" in r for r in skipped)
    assert recipe_store.load(back)                       # kept for a later attempt


def test_a_chain_whose_intermediate_is_used_elsewhere_stays():
    model = convtranspose.build([3, 4, 5], kernel=[2, 2, 2], strides=[2, 2, 2])
    lowered = lower(model, "subpixel")
    conv_out = next(n for n in lowered.graph.node if n.op_type == "Conv").output[0]
    lowered.graph.output.append(onnx.helper.make_tensor_value_info(conv_out, onnx.TensorProto.FLOAT, None))
    back, report = api.convert_model(lowered, fuse=True)
    assert count_ops(back, "ConvTranspose") == 0
    assert any("used outside the chain" in r for p in report.passes for _, r in p.skipped)
