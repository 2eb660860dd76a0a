"""The driver: matches first, overlaps dropped, cleanup, validation, and bugs reported as PassError."""
import onnx_graphsurgeon as gs
import pytest

from onnxport.converter import graph_io
from onnxport.converter.errors import PassError
from onnxport.models import convtranspose
from onnxport.passes import _driver
from onnxport.passes._registry import Pass, Skip


def graph_with_two_convtransposes():
    model = convtranspose.build([3, 3, 3], cin=2, cout=2, kernel=[2, 2, 2], strides=[2, 2, 2], consumer="Relu")
    return graph_io.to_graph(model)


class Whole:
    """A toy match covering every ConvTranspose/Relu node, to exercise overlap handling."""

    def __init__(self, nodes):
        self.nodes = tuple(nodes)


def make_pass(match, rewrite, anchors=("ConvTranspose", "Relu")):
    return Pass("toy", "toy pass", anchors, match, rewrite)


def test_overlapping_matches_are_dropped_with_a_reason():
    graph = graph_with_two_convtransposes()
    rewritten = []

    def rewrite(g, m, b):
        rewritten.append(m)

    toy = make_pass(lambda g, n, o: Whole(g.nodes), rewrite)
    report = _driver.apply(graph, toy)
    assert report.applied == 1 and len(rewritten) == 1
    assert report.skipped == [(graph.nodes[1].name, "overlaps an earlier match")]


def test_skips_are_reported_and_nothing_changes():
    graph = graph_with_two_convtransposes()
    before = [n.name for n in graph.nodes]
    report = _driver.apply(graph, make_pass(lambda g, n, o: Skip("not today"), None, anchors=("ConvTranspose",)))
    assert not report.modified and report.skipped == [(before[0], "not today")]
    assert [n.name for n in graph.nodes] == before


def test_a_rewrite_that_breaks_the_graph_is_a_pass_error():
    graph = graph_with_two_convtransposes()

    def dangling(g, m, b):
        node = m.nodes[0]
        node.inputs[0] = gs.Variable("from_nowhere", dtype=node.inputs[0].dtype)

    with pytest.raises(PassError, match="toy.*from_nowhere"):
        _driver.apply(graph, make_pass(lambda g, n, o: Whole([n]), dangling, anchors=("ConvTranspose",)),
                      previous=["earlier-pass"])


def test_an_exception_in_a_rewrite_names_the_pass_node_and_history():
    graph = graph_with_two_convtransposes()

    def boom(g, m, b):
        raise ValueError("boom")

    with pytest.raises(PassError, match=r"pass 'toy' failed on node 'ct_1_node' \(passes that ran before: a, b\): boom"):
        _driver.apply(graph, make_pass(lambda g, n, o: Whole([n]), boom, anchors=("ConvTranspose",)), previous=["a", "b"])
