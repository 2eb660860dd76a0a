"""Timing helpers shared by the benchmark scripts: onnxruntime sessions and a robust latency estimate."""
from __future__ import annotations

import statistics
import time

import numpy as np
import onnx
import onnxruntime as ort

from converter import graph_io, macs
from converter.verify import providers_for


def session(model: onnx.ModelProto, provider: str, threads: int):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=providers_for(provider))


def latency_ms(sess, feeds: dict, budget_s: float = 1.5, min_runs: int = 5) -> float:
    """Median wall time of one run, after warm-up; runs until the budget or min_runs, whichever is later."""
    for _ in range(3):
        sess.run(None, feeds)
    times = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < budget_s:
        t = time.perf_counter()
        sess.run(None, feeds)
        times.append(time.perf_counter() - t)
        if len(times) >= 200:
            break
    return 1000 * statistics.median(times)


def model_macs(model: onnx.ModelProto, shapes: dict) -> int | None:
    return macs.count(graph_io.to_graph(model), shapes)


def random_input(shape) -> np.ndarray:
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)
