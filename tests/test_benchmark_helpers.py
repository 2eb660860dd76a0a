"""The pieces the benchmarks are built from: the layer nets they time and the kernel profile they print."""
import numpy as np

from benchmarks.common import kernel_ms
from onnxport.models import convtranspose


def test_a_layer_can_feed_a_chain_of_consumers():
    model = convtranspose.build([4, 4, 4], 2, 3, [2, 2, 2], strides=[2, 2, 2], consumer="Relu+GlobalAveragePool")
    assert [n.op_type for n in model.graph.node] == ["ConvTranspose", "Relu", "GlobalAveragePool"]


def test_kernel_times_name_every_op_type_the_session_runs():
    model = convtranspose.build([4, 4, 4], 2, 3, [2, 2, 2], strides=[2, 2, 2], consumer="Relu+GlobalAveragePool")
    totals = kernel_ms(model, {"X": np.ones((1, 2, 4, 4, 4), np.float32)}, "cpu", 1, runs=3)
    assert set(totals) == {"ConvTranspose", "Relu", "GlobalAveragePool"}
    assert all(ms > 0 for ms in totals.values())
