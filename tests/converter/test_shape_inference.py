"""Shape inference on the skeleton (no weights copied) and the ConvTranspose size notes."""
from onnxport.converter import shape_inference
from onnxport.converter.files import graph_io
from onnxport.models import convtranspose, examples


def test_skeleton_declares_big_weights_instead_of_copying_them():
    graph = graph_io.to_graph(examples.build("gan3d"))
    skeleton = shape_inference.skeleton(graph)
    assert all(len(i.raw_data) <= 4 * shape_inference.SMALL_CONSTANT for i in skeleton.graph.initializer)
    assert skeleton.ByteSize() < 20_000


def test_annotate_gives_rewritten_tensors_their_shapes():
    graph = graph_io.to_graph(examples.build("gan3d"))
    shape_inference.annotate(graph)
    assert graph.tensors()["relu_1"].shape == ["N", 64, 4, 4, 4]


def test_size_notes_say_which_inverse_size_the_attributes_pick():
    model = convtranspose.build(["D", 5, 6], kernel=[3, 3, 4], strides=[2, 2, 2], pads=[1, 1, 0, 1, 1, 0],
                                output_padding=[0, 1, 0])
    row = shape_inference.node_shapes(graph_io.to_graph(model))[0]
    assert row.notes[0].startswith("axis 0: in D -> out 2*D-1; stride 2 allows 2*D-1 | 2*D")
    assert "in 5 -> out 10" in row.notes[1] and "allows 9 | 10" in row.notes[1]
    assert "the attributes pick 14 (outside that set)" in row.notes[2]
