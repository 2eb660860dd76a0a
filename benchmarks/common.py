"""Helpers shared by the benchmark scripts: onnxruntime sessions, interleaved comparisons of models
(onnxport.converter.verification.timing, which --strategy auto uses too), the machine's load, the header line."""
from __future__ import annotations

import argparse
import json
import os
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

from onnxport.converter import macs
from onnxport.converter.files import graph_io
from onnxport.converter.verification.timing import Comparison, compare, spread  # noqa: F401  (the scripts' one import)
from onnxport.converter.verification.sessions import device_name, providers_for


def session(model: onnx.ModelProto, provider: str, threads: int):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=providers_for(provider))


def compare_models(models: dict[str, onnx.ModelProto], feeds: dict, args, reference: str = "native") -> Comparison:
    """compare() over onnxruntime sessions of the models (the benchmark's --provider, --threads, --budget)."""
    sessions = {name: session(m, args.provider, args.threads) for name, m in models.items()}
    return compare({name: (lambda s=s: s.run(None, feeds)) for name, s in sessions.items()}, reference,
                   budget_s=args.budget)


def kernel_ms(model: onnx.ModelProto, feeds: dict, provider: str, threads: int, runs: int = 25) -> dict[str, float]:
    """Per op type, the summed median kernel time (ms) of its nodes, from onnxruntime's own profiler: where a
    form's time goes, less moved by the machine's neighbours than a whole run (each kernel is short)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads, options.log_severity_level = threads, 1, 3
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as folder:
        options.profile_file_prefix = os.path.join(folder, "profile")
        s = ort.InferenceSession(model.SerializeToString(), options, providers=providers_for(provider))
        for _ in range(runs):
            s.run(None, feeds)
        with open(s.end_profiling()) as f:
            events = json.load(f)
    per_node: dict[tuple[str, str], list[float]] = {}
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per_node.setdefault((e["args"]["op_name"], e["name"]), []).append(e["dur"] / 1000)
    totals: dict[str, float] = {}
    for (op, _), times in per_node.items():
        totals[op] = totals.get(op, 0.0) + float(np.median(times))
    return totals


def load_text() -> str:
    """The machine's load, to print beside figures (they hold only on a quiet machine)."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPU(s)"


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
    ap.add_argument("--budget", type=float, default=10.0, help="at most this many seconds of rounds per comparison")
    return ap
