"""Test helpers: run a pass on a model, count ops, and the structural checks every rewrite test makes."""
from __future__ import annotations

import functools
import warnings

import numpy as np
import onnx
import onnxruntime as ort

from onnxport.converter import shape_inference
from onnxport.converter.files import graph_io
from onnxport.converter.verification.verify import verify
from onnxport.passes import _driver, _registry
from onnxport.passes._registry import Options

ort.set_default_logger_severity(3)


def run_pass(model: onnx.ModelProto, name: str, options: Options = Options()):
    graph = graph_io.to_graph(model)
    shape_inference.annotate(graph)
    report = _driver.apply(graph, _registry.get(name), options)
    return graph_io.to_model(graph, like=model), report


def cli_with_peak(*argv) -> tuple[int, str, str, int]:
    """(exit code, stdout, stderr, peak resident MiB) of one `python cli.py ARGV` in a process of its own.

    The peak is the child's VmHWM, read by the child itself as it exits: the runner's peak would depend on
    what earlier tests made it hold, and so would wait4's ru_maxrss (Linux carries the forking process's
    high-water mark across exec, and subprocess forks this runner)."""
    import os
    import subprocess
    import sys
    import tempfile
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with tempfile.TemporaryDirectory() as folder:
        peak_file = os.path.join(folder, "peak")
        process = subprocess.run([sys.executable, "-c", _REPORTING_PEAK, peak_file, os.path.join(root, "cli.py"),
                                  *map(str, argv)], cwd=root, capture_output=True, text=True)
        with open(peak_file) as f:                  # absent: the CLI left without running atexit (a bug)
            peak_kib = int(f.read())
    return process.returncode, process.stdout, process.stderr, peak_kib // 1024


_REPORTING_PEAK = """
import atexit, runpy, sys
peak_file, sys.argv = sys.argv[1], sys.argv[2:]
def report_peak():
    with open("/proc/self/status") as status:
        kib = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(peak_file, "w") as out:
        out.write(kib)
atexit.register(report_peak)
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def count_ops(model: onnx.ModelProto, op: str, spatial_rank: int | None = None) -> int:
    weights = {i.name: len(i.dims) for i in model.graph.initializer}
    inputs = {vi.name: len(vi.type.tensor_type.shape.dim) for vi in model.graph.input}
    n = 0
    for node in model.graph.node:
        if node.op_type != op:
            continue
        if spatial_rank is None:
            n += 1
        else:
            rank = weights.get(node.input[1], inputs.get(node.input[1]))
            n += rank is not None and rank - 2 == spatial_rank
    return n


def assert_structurally_valid(out: onnx.ModelProto, like: onnx.ModelProto) -> None:
    """checker(full) passes, names are unique, io names/dtypes and ir_version/opsets are those of `like`."""
    onnx.checker.check_model(out, full_check=True)
    produced = [o for n in out.graph.node for o in n.output if o]
    assert len(produced) == len(set(produced)), "a tensor is produced twice"
    node_names = [n.name for n in out.graph.node if n.name]
    assert len(node_names) == len(set(node_names)), "node names collide"
    io = lambda m: [(v.name, v.type.tensor_type.elem_type) for v in list(m.graph.input) + list(m.graph.output)]
    assert io(out) == io(like)
    assert out.ir_version == like.ir_version
    assert {(o.domain, o.version) for o in out.opset_import} == {(o.domain, o.version) for o in like.opset_import}


def assert_equivalent(a: onnx.ModelProto, b: onnx.ModelProto, shapes=None, runs: int = 2, alignment=None) -> None:
    result = verify(a, b, shapes=shapes, provider="cpu", runs=runs, **({"alignment": alignment} if alignment else {}))
    assert result.runs and all(r.outputs for r in result.runs), "nothing was compared"
    assert result.ok, result.summary()


def max_rank_of_new_tensors(model: onnx.ModelProto, shapes_at: dict) -> int:
    """Largest rank of any tensor, by shape inference at concrete input sizes."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for vi in m.graph.input:
        if vi.name in shapes_at:
            for d, v in zip(vi.type.tensor_type.shape.dim, shapes_at[vi.name]):
                d.dim_value = v
    inferred = onnx.shape_inference.infer_shapes(m, strict_mode=True)
    ranks = [len(vi.type.tensor_type.shape.dim) for vi in inferred.graph.value_info]
    return max(ranks, default=0)


def run_model(model: onnx.ModelProto, feeds: dict) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def assert_same_as_original(a: onnx.ModelProto, b: onnx.ModelProto, shapes: dict | None = None, runs: int = 1) -> None:
    """a and b agree on onnxruntime; where onnxruntime has no kernel for a (5-D cubic Resize), both run
    on onnx's reference instead, so the rewrite is judged on one implementation, not on two that differ."""
    from onnx.reference import ReferenceEvaluator

    from onnxport.converter import input_specs
    from onnxport.converter.verification import run_plan
    specs = input_specs.input_specs(a)
    sizes = run_plan.plan(a, overrides=shapes or {}, runs=1).first
    feeds = input_specs.random_feeds(specs, sizes, 0)
    try:
        run_model(a, feeds)
    except Exception:  # noqa: BLE001 - no onnxruntime kernel for the original
        want, got = (ReferenceEvaluator(m).run(None, feeds) for m in (a, b))
        for w, g in zip(want, got):
            assert w.shape == g.shape and np.max(np.abs(w - g)) <= 1e-4 + 1e-4 * np.max(np.abs(w))
        return
    assert_equivalent(a, b, shapes=shapes, runs=runs)


@functools.lru_cache(maxsize=1)
def _all_node_cases() -> tuple:
    """onnx's backend node tests, generated once: collect_testcases keeps one global list, so a second
    call with another op type would return the first call's cases."""
    import onnx.backend.test.case.node as node_cases
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tuple(node_cases.collect_testcases())


def onnx_node_cases(prefix: str) -> list:
    """The node tests whose name starts with prefix, e.g. test_convtranspose, test_resize."""
    return [c for c in _all_node_cases() if c.name.startswith(prefix)]
