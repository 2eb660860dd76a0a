"""Where verification runs a model: onnxruntime sessions on the provider that really loads here (CUDA with
TF32 off, else CPU; graph optimizations off, so onnxruntime's own fusions do not rewrite what is under
test), onnx's reference evaluator for an op onnxruntime lacks (within a MAC budget), and a real runtime's
worker (converter.runtimes) for the second model. A model a runner refuses is bad input, in one line.
"""
from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path

import onnx

from onnxport.converter import input_specs as inputs_mod, runtime
from onnxport.converter.files import model_io
from onnxport.converter.files.model_io import PROTOBUF_LIMIT
from onnxport.errors import BadArgument, BadInput, one_line

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}


CUDA_OPTIONS = {"use_tf32": "0"}      # TF32 would change float32 results of an exact rewrite


def cuda_usable() -> bool:
    """Whether a CUDA session really runs here (onnxruntime-gpu lists CUDA even without a GPU)."""
    return runtime.cuda_problem() is None


@functools.lru_cache(maxsize=None)
def device_name(provider: str) -> str:
    """What the provider runs on, for reports: the GPU's name for CUDA (from nvidia-smi), else the CPU's."""
    import subprocess
    if provider == PROVIDERS["cuda"]:
        try:
            done = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                                  text=True, timeout=10, check=True)
            return done.stdout.strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError, IndexError):
            return "an NVIDIA GPU"
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return "the CPU"


def providers_for(choice: str) -> list:
    if choice not in ("auto", "cpu", "cuda"):
        raise BadArgument(f"unknown provider '{choice}' (auto, cuda, cpu)")
    if choice == "cpu" or (choice == "auto" and not cuda_usable()):
        return [PROVIDERS["cpu"]]
    if not cuda_usable():
        raise BadArgument(f"--provider cuda: CUDA does not run here: {runtime.cuda_problem()}")
    return [(PROVIDERS["cuda"], CUDA_OPTIONS), PROVIDERS["cpu"]]


def _options(optimized: bool = False):
    ort = runtime.onnxruntime()
    options = ort.SessionOptions()
    if not optimized:          # verification: onnxruntime's own fusions must not rewrite what is checked
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 4          # failures surface as exceptions, reported in one line
    return options


def make_session(model: onnx.ModelProto, providers: list, optimized: bool = False, folder: Path | None = None):
    """An onnxruntime session (optimized: as deployed, for timing). External data is read by onnxruntime
    from `folder` (the model's own); a model whose in-memory weights pass the protobuf limit goes through
    a temporary file."""
    ort = runtime.onnxruntime()
    options = _options(optimized)
    if folder is not None:
        options.add_session_config_entry("session.model_external_initializers_file_folder_path", str(folder))
    if model_io.in_memory_bytes(model) <= PROTOBUF_LIMIT - (64 << 20):
        return ort.InferenceSession(model.SerializeToString(), options, providers=providers)
    with tempfile.TemporaryDirectory(prefix="onnxport-verify-") as tmp:
        copy = onnx.ModelProto()
        copy.CopyFrom(model)
        path = model_io.save(copy, os.path.join(tmp, "model.onnx"), folder=folder, external=True)
        return ort.InferenceSession(str(path), _options(optimized), providers=providers)


def runtime_session(name: str, model: onnx.ModelProto, folder: Path | None, max_memory: int):
    """The second model on a real runtime; its refusal (or crash) is the verification's finding."""
    from onnxport.converter.runtimes import info
    from onnxport.converter.runtimes.session import RuntimeFailure, RuntimeSession
    info(name)                          # not installed: a one-line error naming the extra, exit 2
    try:
        return RuntimeSession(name, model, folder, max_memory)
    except RuntimeFailure as e:
        raise BadInput(str(e)) from None


def other_providers(plist: list, against: str) -> list:
    """The provider list for the other side of a cross-provider check; refuses one that is the same."""
    other = providers_for(against)
    if provider_name(other[0]) == provider_name(plist[0]):
        hint = "" if cuda_usable() else " (CUDA does not load on this machine, so there is nothing to compare)"
        raise BadArgument(f"--against-provider {against}: both sides would run on {provider_name(plist[0])}{hint}")
    return other


def provider_name(entry) -> str:
    return entry[0] if isinstance(entry, tuple) else entry


class ReferenceEvaluatorRunner:
    """onnx's reference evaluator behind the session interface (run(None, feeds) -> outputs)."""

    def __init__(self, model: onnx.ModelProto):
        from onnx.reference import ReferenceEvaluator
        self._evaluator = ReferenceEvaluator(model)

    @classmethod
    def try_load(cls, model: onnx.ModelProto, folder: Path | None = None):
        try:
            return cls(model_io.materialize(model, folder))
        except Exception:  # noqa: BLE001 - the reference cannot run it either
            return None

    def run(self, _names, feeds):
        return self._evaluator.run(None, feeds)


REFERENCE_MAX_MACS = 200_000_000      # onnx.reference runs a Conv in numpy: about a minute at this much


def lacks_kernel(message: str) -> bool:
    """onnxruntime has no kernel for an op of the model (rather than refusing the model itself)."""
    return "NOT_IMPLEMENTED" in message or "Could not find an implementation" in message


def reference_runner(model: onnx.ModelProto, providers, folder: Path | None):
    """The first model's runner: onnxruntime, or, for an op onnxruntime lacks (cubic 5-D Resize, say),
    onnx's reference implementation, so a rewrite of exactly such an op can still be checked. A model
    onnxruntime refuses for any other reason is bad input: the reference would only take longer to say so."""
    try:
        session = make_session(model, providers, folder=folder)
        return session, session.get_providers()[0]
    except Exception as e:  # noqa: BLE001 - onnxruntime raises several types
        why = one_line(e)
    runner = ReferenceEvaluatorRunner.try_load(model, folder) if lacks_kernel(why) else None
    if runner is None:          # the model itself is the problem
        raise BadInput(f"onnxruntime cannot load the first model: {why}")
    return runner, f"onnx.reference for the first model, one run (onnxruntime: {why[:100]})"


def check_reference_cost(model: onnx.ModelProto, shapes: dict, folder: Path | None) -> None:
    """The reference evaluator is slow: it runs once, at the smallest planned size, within a MAC budget."""
    from onnxport.converter import macs
    from onnxport.converter.files import graph_io
    count = macs.count(graph_io.to_graph(model, folder), shapes)
    if count is not None and count > REFERENCE_MAX_MACS:
        raise BadInput(f"onnxruntime lacks a kernel of the first model, and onnx.reference would need "
                       f"{count / 1e6:.0f}M MACs at {inputs_mod.sizes_text(shapes)} (at most {REFERENCE_MAX_MACS / 1e6:.0f}M): "
                       f"give smaller sizes with --shape")


def load_session(model: onnx.ModelProto, providers, label: str, folder: Path | None):
    try:
        return make_session(model, providers, folder=folder)
    except Exception as e:  # noqa: BLE001 - onnxruntime raises several types; the message says it all
        raise BadInput(f"onnxruntime cannot load {label}: {one_line(e)}") from None
