"""The onnxruntime this process runs on: which distribution, whether CUDA really loads here, and why not.

onnxruntime and onnxruntime-gpu install into the same `onnxruntime` folder: with both installed, removing
or upgrading one breaks the other (every command then died with an AttributeError). That state is found
before use and named with the command that repairs it. onnxruntime-gpu lists CUDA among its providers
even where it cannot load it (no GPU, or no CUDA 13 / cuDNN 9 libraries); the reason is the loader's
own message, read by loading the provider library directly, once and quietly.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import shutil
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from onnxport.errors import BadInput

DISTRIBUTIONS = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml", "onnxruntime-openvino")
CUDA = "CUDAExecutionProvider"
REPAIR = "pip uninstall -y onnxruntime onnxruntime-gpu && pip install onnxruntime-gpu  (or onnxruntime, CPU only)"


def installed() -> list[str]:
    found = []
    for name in DISTRIBUTIONS:
        try:
            metadata.version(name)
            found.append(name)
        except metadata.PackageNotFoundError:
            continue
    return found


@functools.lru_cache(maxsize=1)
def onnxruntime():
    """The onnxruntime module, or BadInput naming the broken install and its repair."""
    dists = installed()
    if len(dists) > 1:
        raise BadInput(f"{' and '.join(dists)} are both installed; they share one package folder, so either "
                       f"breaks the other: {REPAIR}")
    try:
        ort = _import_leaving_no_session_file()
        ort.InferenceSession, ort.SessionOptions, ort.get_available_providers  # noqa: B018 - a half-removed one lacks these
    except (ImportError, AttributeError) as e:
        interrupted = e.__cause__ or e.__context__        # a signal during its import is not a broken install
        if interrupted is not None and not isinstance(interrupted, Exception):
            raise interrupted from None
        raise BadInput(f"onnxruntime is not usable ({e}; a half-removed install?): {REPAIR}") from None
    return ort


def _import_leaving_no_session_file():
    """import onnxruntime. Its telemetry library writes a session-id file `.ses` into $TMPDIR when it loads
    (onnxruntime 1.31, Linux; read once, not written again), which would outlive every onnxport command:
    so the import sees a private TMPDIR that is removed right after."""
    if "onnxruntime" in sys.modules:
        return sys.modules["onnxruntime"]
    private = tempfile.mkdtemp(prefix="onnxport-ort-")     # first: tempfile caches the real $TMPDIR
    before = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = private
    try:
        import onnxruntime
    finally:
        if before is None:
            del os.environ["TMPDIR"]
        else:
            os.environ["TMPDIR"] = before
        shutil.rmtree(private, ignore_errors=True)
    return onnxruntime


@functools.lru_cache(maxsize=1)
def cuda_problem() -> str | None:
    """None when a CUDA session really runs here; else why not, in one line."""
    ort = onnxruntime()
    if CUDA not in ort.get_available_providers():
        return "this onnxruntime has no CUDA provider (install onnxruntime-gpu, or onnxport[cuda])"
    if hasattr(ort, "preload_dlls"):          # CUDA and cuDNN from pip (onnxport[cuda]) are found this way
        with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            try:                                  # it prints each library it misses; the load below names one
                ort.preload_dlls(cuda=True, cudnn=True, msvc=False)
            except Exception:  # noqa: BLE001 - missing ones are named by the load below
                pass
    library = Path(ort.__file__).parent / "capi" / "libonnxruntime_providers_cuda.so"
    if library.exists():
        try:
            ctypes.CDLL(str(library))
        except OSError as e:
            return f"its CUDA provider does not load: {e} (install onnxport[cuda], or CUDA 13 and cuDNN 9)"
    return None if _probe_runs_on_cuda(ort) else "the CUDA provider loads but no CUDA device runs a session"


def _probe_runs_on_cuda(ort) -> bool:
    import onnx
    probe = onnx.helper.make_model(
        onnx.helper.make_graph([onnx.helper.make_node("Relu", ["x"], ["y"])], "probe",
                               [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])],
                               [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])]),
        opset_imports=[onnx.helper.make_opsetid("", 13)])
    probe.ir_version = 8
    options = ort.SessionOptions()
    options.log_severity_level = 4
    ort.set_default_logger_severity(4)      # the failed CUDA load logs loudly; this probe must not
    try:
        session = ort.InferenceSession(probe.SerializeToString(), options, providers=[CUDA, "CPUExecutionProvider"])
        return session.get_providers()[0] == CUDA
    except Exception:  # noqa: BLE001 - any failure to run on CUDA means: use the CPU
        return False
    finally:
        ort.set_default_logger_severity(3)


def versions_text() -> str:
    """What --version prints: versions, and the provider verification would use here (and why)."""
    import onnx
    ort = onnxruntime()
    try:
        mine = metadata.version("onnxport")
    except metadata.PackageNotFoundError:
        mine = "checkout"
    problem = cuda_problem()
    provider = CUDA if problem is None else f"CPUExecutionProvider (CUDA: {problem})"
    return (f"onnxport {mine}\nonnx {onnx.__version__}\nonnxruntime {ort.__version__} ({', '.join(installed())})\n"
            f"provider: {provider}")
