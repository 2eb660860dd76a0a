"""Admissible input sizes m + k*n: the seed's autoencoder, pins, joins and every op the analysis follows."""
import numpy as np
import pytest

from converter import graph_io, sizes
from models import examples
from models._builder import NetBuilder


def analysed(model):
    return {(a.input, a.axis): a for a in sizes.admissible_sizes(graph_io.to_graph(model))}


def test_the_seed_autoencoder_takes_61_plus_16n():
    result = analysed(examples.build("ddae"))
    for axis in (2, 3):
        a = result[("X", axis)]
        assert (a.minimum, a.step) == (61, 16)
        assert a.text() == "61 + 16n (exported at 157 = 61 + 16*6)"
        assert a.follows == (("denoised_1", axis),)
        assert a.next_admissible(100) == 109 and a.next_admissible(10) == 61


def test_a_flatten_head_pins_the_size_and_says_where():
    a = analysed(examples.build("lenet"))[("X", 2)]
    assert (a.minimum, a.step) == (28, 0) and "Flatten 'flatten_1_node'" in a.text()


def test_pooling_u_net():
    assert {(a.minimum, a.step) for a in analysed(examples.build("unet3d")).values()} == {(4, 4)}


def net(build_body, shape=("N", 2, "H", "W")):
    b = NetBuilder("probe", seed=1)
    x = b.input("X", list(shape))
    b.output(build_body(b, x))
    return b.build()


@pytest.mark.parametrize("body, expected", [
    (lambda b, x: b.conv(x, 2, 2, [5, 5], "c", strides=[2, 2]), (5, 2)),
    (lambda b, x: b.conv(x, 2, 2, [3, 3], "c", strides=[3, 3], pads=[1, 1, 1, 1], dilations=[2, 2]), (3, 3)),
    (lambda b, x: b.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2]), (2, 2)),
    (lambda b, x: b.op("AveragePool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]), (1, 2)),
    (lambda b, x: b.conv_transpose(b.conv(x, 2, 2, [2, 2], "c", strides=[2, 2]), 2, 2, [2, 2], strides=[2, 2]), (2, 2)),
    (lambda b, x: b.op("Resize", [x, "", b.const(np.array([1, 1, 0.5, 0.5], np.float32))], mode="nearest"), (2, 2)),
    (lambda b, x: b.op("Pad", [b.conv(x, 2, 2, [3, 3], "c", strides=[2, 2]), b.const(np.array([0, 0, 1, 1, 0, 0, 1, 1]))]), (3, 2)),
    (lambda b, x: b.op("Slice", [b.conv(x, 2, 2, [2, 2], "c", strides=[2, 2]), b.const(np.array([1])),
                                 b.const(np.array([-1])), b.const(np.array([2]))]), (6, 2)),
    (lambda b, x: b.op("Concat", [b.op("Relu", [x]), x], axis=1), (1, 1)),
    (lambda b, x: b.op("Add", [b.conv(x, 2, 2, [3, 3], "c", pads=[1, 1, 1, 1]), x]), (1, 1)),
])
def test_every_op_it_follows(body, expected):
    a = analysed(net(body))[("X", 2)]
    assert (a.minimum, a.step) == expected, a.text()


def test_a_join_that_never_lines_up_has_no_admissible_size():
    model = net(lambda b, x: b.op("Add", [b.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2]),
                                          b.op("MaxPool", [x], kernel_shape=[1, 1], strides=[1, 1])]))
    a = analysed(model)[("X", 2)]
    assert a.minimum is None and "no admissible size" in a.text()


def test_an_op_it_does_not_model_ends_the_analysis_with_a_note():
    model = net(lambda b, x: b.op("SpaceToDepth", [b.conv(x, 2, 2, [2, 2], "c", strides=[2, 2])], blocksize=2))
    a = analysed(model)[("X", 2)]
    assert (a.minimum, a.step) == (2, 2) and "SpaceToDepth" in a.note
