"""Targets and strategies -> passes; the report of a run; what remains after it."""
import numpy as np
import pytest
from onnx import helper

from onnxport.converter import api, pipeline
from onnxport.converter.files import graph_io
from onnxport.errors import BadArgument
from onnxport.models import convtranspose, examples
from tests.helpers import count_ops


def test_plan_rejects_unknown_names():
    with pytest.raises(BadArgument, match="unknown target 'x'"):
        pipeline.plan(["x"], "subpixel")
    with pytest.raises(BadArgument, match="unknown strategy 'y'"):
        pipeline.plan(["no-convtranspose3d"], "y")


def test_targets_choose_the_ranks_the_pass_rewrites():
    assert pipeline.plan(["no-convtranspose3d"], "subpixel")[0].options.spatial_ranks == {3}
    assert pipeline.plan(["no-convtranspose3d", "no-convtranspose"], "subpixel")[0].options.spatial_ranks is None


def test_default_target_leaves_2d_convtranspose_and_no_convtranspose_removes_it():
    model = examples.build("keras_gan2d")
    kept, report = api.convert_model(model)
    assert count_ops(kept, "ConvTranspose") == 1 and report.passes[0].applied == 0 and not report.remaining
    gone, report = api.convert_model(model, targets=["no-convtranspose"])
    assert count_ops(gone, "ConvTranspose") == 0 and report.passes[0].applied == 1


def test_report_counts_ops_nodes_and_macs():
    model = examples.build("unet3d")
    _, report = api.convert_model(model)
    p = report.passes[0]
    assert p.applied == 2 and p.removed["ConvTranspose"] == 2 and p.added["Conv"] == 2
    assert report.ops_after["ConvTranspose"] == 0 and report.nodes_after == len(model.graph.node) + sum(p.added.values()) - 2
    assert report.macs_before == report.macs_after       # k2 s2: the phase Conv is the same GEMM
    assert report.macs_at == {"X": (1, 1, 8, 12, 16)}           # the first verification run's sizes
    assert "rewrote 2 node(s)" in report.text()


def test_violations_see_subgraphs():
    inner = convtranspose.build([2, 2, 2], kernel=[2, 2, 2]).graph
    inner.input.pop()                                           # the body reads X from the outer scope
    body = helper.make_graph(list(inner.node), "then", [], list(inner.output), list(inner.initializer))
    else_body = helper.make_graph([helper.make_node("Identity", ["X"], ["Z"])], "else", [],
                                  [helper.make_tensor_value_info("Z", 1, None)])
    outer = convtranspose.build([2, 2, 2], kernel=[2, 2, 2])
    cond = helper.make_tensor("c", 9, [], [True])
    outer.graph.initializer.append(cond)
    outer.graph.node.append(helper.make_node("If", ["c"], ["out"], then_branch=body, else_branch=else_body))
    graph = graph_io.to_graph(outer)
    assert len(pipeline.violations(graph, ["no-convtranspose3d"])) == 2
    pipeline.run(graph, pipeline.plan(["no-convtranspose3d"], "subpixel"))
    assert pipeline.violations(graph, ["no-convtranspose3d"]) == []


class _One:
    def __init__(self, node):
        self.nodes = (node,)


def _adds_what_never_broadcasts(graph, m, b):
    """A toy rewrite: the Relu becomes an Add with a length-5 constant, which (1, 2, 6, 6, 6) never takes."""
    relu = m.nodes[0]
    y = relu.outputs[0]
    relu.outputs.clear()
    b.op("Add", [relu.inputs[0], b.const(np.ones((5,), np.float32), "c")], output=y)
    relu.inputs.clear()


@pytest.mark.parametrize("typed", [True, False])
def test_a_pass_after_which_its_nodes_no_longer_type_is_a_pass_error(monkeypatch, typed):
    from onnxport.converter import shape_inference
    from onnxport.converter.files import graph_io
    from onnxport.errors import PassError
    from onnxport.models import convtranspose
    from onnxport.passes import _registry

    graph = graph_io.to_graph(convtranspose.build([3, 3, 3], 2, 2, [2, 2, 2], strides=[2, 2, 2], consumer="Relu"))
    assert shape_inference.annotate(graph) is None
    toy = _registry.Pass("toy", "toy", ("Relu",), lambda g, n, o: _One(n), _adds_what_never_broadcasts, (), _One)
    monkeypatch.setattr(pipeline, "get_pass", lambda name: toy)
    steps = [pipeline.Step("toy", _registry.Options())]
    if typed:
        with pytest.raises(PassError, match=r"pass 'toy' failed on node 'relu.*no longer types"):
            pipeline.run(graph, steps, typed=True)
    else:                                       # a graph that never typed: nothing to compare with
        assert pipeline.run(graph, steps)[0].applied == 1
