"""Timing helpers shared by the benchmark scripts: onnxruntime sessions and a robust latency estimate."""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import onnx
import onnxruntime as ort

from onnxport.converter import graph_io, macs
from onnxport.converter.verify import device_name, providers_for


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


def describe(provider: str, threads: int) -> str:
    """The line each benchmark prints first: runtime version, the provider a session really gets, the
    device, threads."""
    probe = onnx.helper.make_model(
        onnx.helper.make_graph([onnx.helper.make_node("Relu", ["x"], ["y"])], "probe",
                               [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
                               [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])]),
        opset_imports=[onnx.helper.make_opsetid("", 13)], ir_version=8)
    used = session(probe, provider, threads).get_providers()[0]
    return f"onnxruntime {ort.__version__}, {used} on {device_name(used)}, {threads} intra-op thread(s)"


def timing_parser(doc: str) -> argparse.ArgumentParser:
    """The options every latency benchmark takes: provider, threads, seconds of timing per model."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--provider", default="cpu", help="cpu, cuda or auto (default cpu)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--budget", type=float, default=1.5, help="seconds of timing per model")
    return ap
