"""Admissible input sizes from exact integer arithmetic: where a net runs and its joins match, and where it
also loses nothing; checked against a brute-force evaluation and against onnxruntime."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from onnxport.converter.files import graph_io
from onnxport.converter.sizes import admissible_sizes
from onnxport.converter.sizes.size_sets import Progression, SizeSet
from onnxport.models import examples
from onnxport.models._builder import NetBuilder

LIMIT = 150


def analysed(model):
    return {(a.input, a.axis): a for a in admissible_sizes.admissible_sizes(graph_io.to_graph(model))}


def runs_at(model, shape) -> tuple | None:
    """The output shape onnxruntime gives at an input shape, None if it refuses or gives an empty tensor."""
    options = ort.SessionOptions()
    options.log_severity_level = 4                  # refusals are expected here, and counted
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    try:
        out = session.run(None, {"X": np.zeros(shape, np.float32)})[0]
    except Exception:  # noqa: BLE001 - any refusal counts
        return None
    return out.shape if out.size else None


def test_the_seed_autoencoder_runs_at_61_and_62_plus_16n_and_loses_nothing_at_61_plus_16n():
    model = examples.build("ddae")
    a = analysed(model)[("X", 2)]
    assert a.runs.text() == "61 + 16n, 62 + 16n" and a.lossless.text() == "61 + 16n"
    assert a.text().startswith("runs at 61 + 16n, 62 + 16n (Add 'skip2_1_node'")
    assert a.follows() == (("denoised_1", 2),)
    assert analysed(model)[("X", 1)].role == "channels"
    from onnxport.converter import size_edits
    freed, _ = size_edits.strip(model)
    for n in range(55, 100):
        assert (runs_at(freed, (1, 1, n, 157)) is not None) == (n in a.runs), n


def test_a_linear_head_admits_finitely_many_sizes_and_says_which_node():
    a = analysed(examples.build("lenet"))[("X", 2)]
    assert a.runs.text() == "28, 29, 30, 31 only" and a.pinned
    assert a.runs_by == "Gemm 'fc1_1_node' fixes its features at 800"


def test_pooling_u_net():
    assert {a.runs.text() for a in analysed(examples.build("unet3d")).values() if a.role == "spatial"} == {"4 + 4n"}


def net(build_body, shape=("N", 2, "H", "W")):
    b = NetBuilder("probe", seed=1)
    x = b.input("X", list(shape))
    b.output(build_body(b, x))
    return b.build()


@pytest.mark.parametrize("body, runs, lossless", [
    (lambda b, x: b.conv(x, 2, 2, [5, 5], "c", strides=[2, 2]), "5 + n", "5 + 2n"),
    (lambda b, x: b.conv(x, 2, 2, [3, 3], "c", strides=[3, 3], pads=[1, 1, 1, 1], dilations=[2, 2]), "3 + n", "3 + 3n"),
    (lambda b, x: b.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2]), "2 + n", "2 + 2n"),
    (lambda b, x: b.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1), "3 + n", "3 + 2n"),
    (lambda b, x: b.op("AveragePool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]), "1 + n", "1 + 2n"),
    (lambda b, x: b.conv_transpose(b.conv(x, 2, 2, [2, 2], "c", strides=[2, 2]), 2, 2, [2, 2], strides=[2, 2]),
     "2 + n", "2 + 2n"),
    (lambda b, x: b.op("Resize", [x, "", b.const(np.array([1, 1, 0.5, 0.5], np.float32))], mode="nearest"),
     "2 + n", "2 + 2n"),
    (lambda b, x: b.op("Pad", [b.conv(x, 2, 2, [3, 3], "c", strides=[2, 2]), b.const(np.array([0, 0, 1, 1, 0, 0, 1, 1]))]),
     "3 + n", "3 + 2n"),
    (lambda b, x: b.op("Slice", [b.conv(x, 2, 2, [2, 2], "c", strides=[2, 2]), b.const(np.array([1])),
                                 b.const(np.array([-1])), b.const(np.array([2]))]), "6 + n", "6 + 2n"),
    (lambda b, x: b.op("Concat", [b.op("Relu", [x]), x], axis=1), "1 + n", "1 + n"),
    (lambda b, x: b.op("Add", [b.conv(x, 2, 2, [3, 3], "c", pads=[1, 1, 1, 1]), x]), "1 + n", "1 + n"),
    (lambda b, x: b.op("Concat", [b.conv_transpose(b.conv(x, 2, 2, [3, 3], "c", strides=[2, 2], pads=[1, 1, 1, 1]),
                                                   2, 2, [3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                                                   output_padding=[1, 1]), x], axis=1), "2 + 2n", "none"),
])
def test_every_op_it_follows(body, runs, lossless):
    a = analysed(net(body))[("X", 2)]
    assert (a.runs.text(), a.lossless.text()) == (runs, lossless), a.text()


@pytest.mark.parametrize("body", [
    lambda b, x: b.conv(x, 2, 2, [3, 3], "c", strides=[2, 2], auto_pad="SAME_UPPER"),
    lambda b, x: b.conv(x, 2, 2, [4, 4], "c", strides=[3, 3], auto_pad="SAME_LOWER"),
    lambda b, x: b.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2], auto_pad="SAME_UPPER"),
])
def test_predicted_lengths_match_onnxruntime_for_same_padding(body):
    """auto_pad SAME_* gives ceil(n / s), at every n: the predicted output length is onnxruntime's."""
    model = net(body)
    a = analysed(model)[("X", 2)]
    for n in range(1, 14):
        got = runs_at(model, (1, 2, n, 8))
        assert a.output_lengths(n) == ([got[2]] if got else None), (n, got, a.text())


def test_a_join_that_never_lines_up_admits_no_size():
    model = net(lambda b, x: b.op("Concat", [b.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2]), x], axis=1))
    a = analysed(model)[("X", 2)]
    assert a.runs.empty and "no size runs (Concat" in a.text()


def test_an_op_it_does_not_model_ends_the_analysis_with_a_note():
    model = net(lambda b, x: b.op("Hardmax", [b.op("LpNormalization", [b.conv(x, 2, 2, [2, 2], "c", strides=[2, 2])])]))
    a = analysed(model)[("X", 2)]
    assert not a.complete and "LpNormalization" in a.note
    assert a.text().startswith("unknown past LpNormalization") and "at most 2 + n" in a.text()
    assert "runs at" not in a.text(), "past a node it cannot follow, no set is claimed"


def test_an_axis_a_reshape_couples_with_another_is_reported_as_coupled():
    """(N, C, D, H, W) -> (N, C, D*H, W) and a 2-D Conv over D*H: D's length no longer stands alone."""
    def body(b, x):
        flat = b.op("Reshape", [x, b.const(np.array([1, 2, 24, 5]))], "flatten_dh")
        return b.conv(flat, 2, 2, [3, 3], "c", strides=[2, 2])
    a = analysed(net(body, shape=(1, 2, 4, 6, 5)))[("X", 2)]
    assert not a.complete and "coupled with other axes there, by Reshape 'flatten_dh_1_node'" in a.text()


def test_size_sets_are_canonical_and_answer_membership():
    s = SizeSet.of([Progression(7, 8), Progression(8, 8)])
    assert s.text() == "7 + 8n, 8 + 8n" and s.smallest(4) == [7, 8, 15, 16] and 23 in s and 22 not in s
    assert SizeSet.of([Progression(2, 2), Progression(4, 4)]).text() == "2 + 2n"
    assert SizeSet.of([Progression(1, 0), Progression(4, 4)]).text() == "1, 4 + 4n"
    assert SizeSet.of([Progression(5, 3, 2)]).text() == "5, 8 only"
    assert SizeSet.of([Progression(16, 16)]).intersect(SizeSet.of([Progression(40, 1)])).text() == "48 + 16n"
    assert SizeSet.of([Progression(61, 16)]).nearest(100) == [93, 109]


# ---------------------------------------------------------------- random chains against a brute force


LAYERS = st.one_of(
    st.tuples(st.just("Conv"), st.integers(1, 5), st.integers(1, 3), st.integers(0, 2), st.integers(1, 2), st.just(0)),
    st.tuples(st.sampled_from(["MaxPool", "AveragePool"]), st.integers(1, 4), st.integers(1, 3), st.integers(0, 1),
              st.just(1), st.integers(0, 1)),
    st.tuples(st.just("ConvTranspose"), st.integers(1, 4), st.integers(1, 3), st.integers(0, 1), st.just(1),
              st.integers(0, 1)),
    st.tuples(st.just("Resize"), st.sampled_from([2, 3]), st.sampled_from([1, -1]), st.just(0), st.just(1), st.just(0)),
)


def brute_force(layers, skip, n):
    """Every length by direct evaluation, the join's two lengths compared; None where the net cannot run
    by the ONNX formulas (a window longer than the padded input, a length below 1)."""
    lengths = [n]
    for op, k, s, p, d, extra in layers:
        L = lengths[-1]
        if op in ("Conv", "MaxPool", "AveragePool"):
            p = min(p, k - 1)
            num = L + 2 * p - d * (k - 1) - 1
            if num < 0:
                return None
            out = num // s + 1
            if extra and op != "Conv" and num % s:
                out += 1
                if (out - 1) * s >= L + p:
                    out -= 1
        elif op == "ConvTranspose":
            out = s * (L - 1) + min(extra, s - 1) + k - 2 * min(p, k - 1)
        else:
            out = L * k if s == 1 else L // k
        if out < 1:
            return None
        lengths.append(out)
    if skip is not None and lengths[skip[0]] != lengths[skip[1]]:
        return None
    return lengths[-1]


def chain(layers, skip):
    b = NetBuilder("chain", seed=2)
    x = b.input("X", [1, 2, "L"])
    taps = [x]
    for op, k, s, p, d, extra in layers:
        p = min(p, k - 1)
        if op == "Conv":
            x = b.conv(x, 2, 2, [k], "c", strides=[s], pads=[p, p], dilations=[d])
        elif op in ("MaxPool", "AveragePool"):
            x = b.op(op, [x], kernel_shape=[k], strides=[s], pads=[p, p], ceil_mode=extra)
        elif op == "ConvTranspose":
            x = b.conv_transpose(x, 2, 2, [k], strides=[s], pads=[p, p], output_padding=[min(extra, s - 1)])
        else:
            x = b.op("Resize", [x, "", b.const(np.array([1, 1, k if s == 1 else 1 / k], np.float32))], mode="nearest")
        taps.append(x)
    if skip is not None:
        joined = b.op("Concat", [taps[skip[0]], taps[skip[1]]], axis=1)
        x = b.op("Add", [x, b.op("ReduceMean", [joined], axes=[1, 2], keepdims=1)])    # keeps the join alive
    b.output(x, [1, 2, None])
    return b.build()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(LAYERS, min_size=1, max_size=5), st.data())
def test_random_chains_agree_with_brute_force_and_onnxruntime(layers, data):
    skip = None
    if len(layers) >= 2 and data.draw(st.booleans()):
        i = data.draw(st.integers(0, len(layers) - 1))
        skip = (i, data.draw(st.integers(i + 1, len(layers))))
    model = chain(layers, skip)
    a = analysed(model)[("X", 2)]
    expected = [n for n in range(1, LIMIT) if brute_force(layers, skip, n) is not None]
    assert [n for n in range(1, LIMIT) if n in a.runs] == expected, a.text()
    name = model.graph.output[0].name
    for n in list(range(1, 24)) + [LIMIT - 1]:
        got = runs_at(model, (1, 2, n))
        if n in a.runs:
            assert got is not None and got[2] == brute_force(layers, skip, n), (n, got)
            if a.complete:      # (onnx's inference misses ceil_mode's last-window rule, so this can stop early)
                assert a.output_shapes(n, {name: [1, 2, 0]})[name][2] == got[2]
        elif skip is not None and brute_force(layers, None, n) is not None:
            assert got is None, n                   # everything fits, only the join differs: onnxruntime refuses


def _shape_of(b, x, start, end):
    return b.op("Shape", [x], start=start, end=end)


def test_a_codebook_lookup_follows_the_indices():
    """ArgMin over the codes, then Gather of a codebook (a vector quantiser): the indices carry the axis."""
    def body(b, x):
        feats = b.op("Transpose", [b.conv(x, 2, 4, [2, 2], "c", strides=[2, 2])], perm=[0, 2, 3, 1])
        codes = b.op("ArgMin", [feats], axis=3, keepdims=0)
        table = b.const(np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32))
        return b.op("Transpose", [b.op("Gather", [table, codes], axis=0)], perm=[0, 3, 1, 2])
    model = net(body)
    a = analysed(model)[("X", 2)]
    assert a.complete and a.runs.text() == "2 + n", a.text()
    for n in range(1, 12):
        assert (runs_at(model, (1, 2, n, 8)) is not None) == (n in a.runs), n


def test_an_expand_by_a_shape_vector_of_ones_keeps_the_axis():
    """VNet's x.repeat: Expand by ConstantOfShape(rank) (all ones) then Tile of the channels."""
    def body(b, x):
        ones = b.op("ConstantOfShape", [b.const(np.array([4], np.int64))],
                    value=onnx.numpy_helper.from_array(np.array([1], np.int64)))
        tiled = b.op("Tile", [b.op("Expand", [x, ones]), b.const(np.array([1, 2, 1, 1], np.int64))])
        return b.op("Add", [b.conv(x, 2, 4, [3, 3], "c", pads=[1, 1, 1, 1]), tiled])
    a = analysed(net(body))[("X", 2)]
    assert a.complete and a.runs.text() == "1 + n", a.text()


def test_padding_to_a_multiple_computed_with_mod_is_followed():
    """Window attention pads each axis to a multiple of the window: pad = (w - L % w) % w from Shape."""
    def body(b, x):
        length = _shape_of(b, x, 2, 3)
        w = b.const(np.array([4], np.int64))
        pad = b.op("Mod", [b.op("Sub", [w, b.op("Mod", [length, w])]), w])
        zeros = b.const(np.array([0, 0, 0, 0, 0], np.int64))
        pads = b.op("Concat", [b.const(np.array([0, 0], np.int64)), pad, zeros], axis=0)
        padded = b.op("Pad", [x, pads])
        return b.op("MaxPool", [padded], kernel_shape=[4, 1], strides=[4, 1])
    model = net(body)
    a = analysed(model)[("X", 2)]
    assert a.complete and a.runs.text() == "1 + n" and a.lossless.text() == "1 + n", a.text()
    for n in range(1, 13):
        assert runs_at(model, (1, 2, n, 8)) == (1, 2, -(-n // 4), 8), n


def test_a_20000_node_chain_is_analysed_and_converted_without_recursion():
    """No walk recurses over the graph's depth: shape evaluation, constants, the size analysis, the
    passes of every profile (onnxruntime's own session set-up is quadratic here, so nothing runs it)."""
    from onnxport.converter import api
    from onnxport.passes import _shape_eval
    b = NetBuilder("chain", seed=1)
    x = b.input("X", ["N", 2, "D", "H", "W"])
    t = b.conv(x, 2, 2, [3, 3, 3], "c", pads=[1] * 6)
    for i in range(20000):
        t = b.op("Neg" if i % 2 else "Relu", [t])
    b.output(b.conv_transpose(t, 2, 2, [2, 2, 2], strides=[2, 2, 2]))
    model = b.build()
    graph = graph_io.to_graph(model)
    assert _shape_eval.evaluate(graph.outputs[0], {}, 17) is None
    a = analysed(model)[("X", 2)]
    assert a.complete and a.runs.text() == "1 + n"
    for target in ("no-convtranspose3d", "nnapi"):
        _, report = api.convert_model(model, api.ConvertOptions(targets=[target]))
        assert report.passes, target
