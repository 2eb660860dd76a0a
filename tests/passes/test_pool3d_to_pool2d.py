"""pool3d-to-pool2d: a 3-D MaxPool/AveragePool/LpPool as a 2-D pool then a pool over depth, exact."""
from hypothesis import given, reject, settings, strategies as st

from onnxport.models import pool
from tests.helpers import assert_equivalent, assert_structurally_valid, count_ops, max_rank_of_new_tensors, run_pass

NAME = "pool3d-to-pool2d"


@st.composite
def pool3d_models(draw):
    op = draw(st.sampled_from(["MaxPool", "AveragePool", "LpPool"]))
    kernel = [draw(st.integers(1, 3)) for _ in range(3)]
    attrs = {"strides": [draw(st.integers(1, 3)) for _ in range(3)]}
    dilations = [draw(st.integers(1, 2)) for _ in range(3)] if draw(st.booleans()) else [1, 1, 1]
    if dilations != [1, 1, 1]:
        attrs["dilations"] = dilations
    eff = [d * (k - 1) + 1 for k, d in zip(kernel, dilations)]
    if draw(st.booleans()):
        attrs["auto_pad"] = "VALID"
        pads = [0] * 6
    else:
        pads = [draw(st.integers(0, k - 1)) for k in kernel + kernel]       # onnxruntime: pad < kernel
        attrs["pads"] = pads
    if op in ("MaxPool", "AveragePool"):
        attrs["ceil_mode"] = draw(st.integers(0, 1))
    if op == "AveragePool":
        attrs["count_include_pad"] = draw(st.integers(0, 1))
    if op == "LpPool":
        attrs["p"] = draw(st.sampled_from([1, 2, 3]))
    lengths = [draw(st.integers(1, 7)) for _ in range(3)]
    if any(n + pads[i] + pads[i + 3] < e for i, (n, e) in enumerate(zip(lengths, eff))):
        reject()
    batch, channels = draw(st.sampled_from([1, 2, "N"])), draw(st.integers(1, 3))
    spatial = ["D", "H", "W"] if draw(st.booleans()) else lengths
    model = pool.build(op, spatial, kernel, channels=channels, batch=batch, **attrs)
    return model, {"X": (2 if batch == "N" else batch, channels, *lengths)}


@settings(max_examples=80, deadline=None)
@given(pool3d_models())
def test_random_configurations_are_exact(case):
    model, sizes = case
    op = model.graph.node[0].op_type
    out, report = run_pass(model, NAME)
    assert report.applied == 1 and count_ops(out, op) == 2
    assert all(len(n.attribute[0].ints) <= 2 for n in out.graph.node if n.op_type == op)
    assert_structurally_valid(out, model)
    assert max_rank_of_new_tensors(out, sizes) <= 5
    assert_equivalent(model, out, shapes=sizes, runs=1)


def test_same_padding_and_used_indices_are_left_with_a_reason():
    _, report = run_pass(pool.build("MaxPool", ["D", "H", "W"], [2, 2, 2], auto_pad="SAME_UPPER", strides=[2, 2, 2]),
                         NAME)
    assert report.applied == 0 and "SAME_UPPER" in report.skipped[0][1]
    model = pool.build("MaxPool", [4, 4, 4], [2, 2, 2])
    node = model.graph.node[0]
    node.output.append("indices")
    model.graph.output.append(model.graph.output[0].__class__(name="indices"))
    model.graph.output[1].type.tensor_type.elem_type = 7
    _, report = run_pass(model, NAME)
    assert report.applied == 0 and "Indices" in report.skipped[0][1]


def test_two_dimensional_pools_are_not_its_business():
    _, report = run_pass(pool.build("AveragePool", ["H", "W"], [2, 2]), NAME)
    assert report.applied == 0 and not report.skipped
