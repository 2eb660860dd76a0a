"""The driver: matches first, overlaps dropped, cleanup, validation, and bugs reported as PassError."""
import onnx_graphsurgeon as gs
import pytest

from onnxport.converter.files import graph_io
from onnxport.errors import PassError
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


def make_pass(match, rewrite, anchors=("ConvTranspose", "Relu"), ensures=(), matches=Whole):
    return Pass("toy", "toy pass", anchors, match, rewrite, ensures, matches)


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


class One:
    def __init__(self, node):
        self.nodes = (node,)


def test_a_rewrite_that_leaves_what_its_pass_ensures_away_is_a_pass_error():
    """A toy lowering that 'rewrites' a ConvTranspose into another ConvTranspose under its name: the driver
    checks the pass's ensures on what it wrote and names the pass."""
    from onnxport.passes import conditions

    def rewrite(g, m, b):
        ct = m.nodes[0]
        y = ct.outputs[0]
        ct.outputs.clear()
        b.op("ConvTranspose", list(ct.inputs), dict(ct.attrs), output=y)
        ct.inputs.clear()

    toy = make_pass(lambda g, n, o: One(n), rewrite, ("ConvTranspose",), (conditions.convtranspose_of_rank(None),), One)
    with pytest.raises(PassError, match=r"toy.*postcondition broken: ConvTranspose with 3 spatial dims remains"):
        _driver.apply(graph_with_two_convtransposes(), toy)


def test_a_rewrite_that_changes_an_output_rank_is_a_pass_error():
    def rewrite(g, m, b):
        relu = m.nodes[0]
        y = relu.outputs[0]
        relu.outputs.clear()
        b.op("Unsqueeze", [relu.inputs[0], b.ints([0], "axes")], output=y)
        y.shape = [1] + list(y.shape)                # what it writes, typed: one rank more
        relu.inputs.clear()

    graph = graph_with_two_convtransposes()
    graph.outputs[0].shape = [1, 2, 6, 6, 6]
    toy = make_pass(lambda g, n, o: One(n), rewrite, ("Relu",), matches=One)
    with pytest.raises(PassError, match="graph outputs changed"):
        _driver.apply(graph, toy)


def test_a_match_of_another_type_than_the_pass_declares_is_a_pass_error():
    """The rewrite reads the declared type's fields: a match of another type is stopped before it runs."""
    toy = make_pass(lambda g, n, o: One(n), lambda g, m, b: pytest.fail("rewrite ran"), ("ConvTranspose",))
    with pytest.raises(PassError, match=r"pass 'toy' failed on node .*returned a One, not the Whole it declares"):
        _driver.apply(graph_with_two_convtransposes(), toy)


def test_every_registered_pass_declares_its_match_type():
    import onnxport.passes  # noqa: F401  (registers every pass)
    from onnxport.passes import _registry
    for p in _registry.all_passes():
        assert isinstance(p.matches, type) and p.matches is not object, p.name


def test_the_nodes_a_rewrite_wrote_are_recorded_not_guessed_from_names():
    """A ConvTranspose named `up` beside an unrelated node named `up/inner`: the nodes the rewrite wrote
    (and only those) are checked against its postconditions and reported as written."""
    from onnxport.converter import api
    model = convtranspose.build([3, 3, 3], cin=2, cout=2, kernel=[2, 2, 2], strides=[2, 2, 2], consumer="Relu")
    convt = next(n for n in model.graph.node if n.op_type == "ConvTranspose")
    relu = next(n for n in model.graph.node if n.op_type == "Relu")
    convt.name, relu.name = "up", "up/inner"
    converted, report = api.convert_model(model)
    assert not report.remaining
    written = {name for p in report.passes for names in p.written.values() for name in names}
    assert "up/inner" not in written and written, written
    assert all(name.startswith("up/") for name in written)


def test_a_postcondition_is_checked_on_every_node_a_rewrite_wrote_even_unnamed_anchors():
    graph = graph_with_two_convtransposes()
    for n in graph.nodes:
        n.name = ""

    def rewrite(g, m, b):
        b.op("ConvTranspose", [m.nodes[0].inputs[0], m.nodes[0].inputs[1]], {"kernel_shape": [2, 2, 2]})

    toy = make_pass(lambda g, n, o: Whole([n]) if n.op == "ConvTranspose" else None, rewrite, anchors=("ConvTranspose",),
                    ensures=(lambda node: "a ConvTranspose" if node.op == "ConvTranspose" else None,))
    with pytest.raises(PassError, match="postcondition broken: a ConvTranspose"):
        _driver.apply(graph, toy)
