"""The zoo of real exports (tests/data/real_exports, made by models/real_exports/make*.py): its files, the
framework's references, and onnxruntime as the ground truth of which sizes an exported graph runs at.

A net's references are stored as x{i} / y{i} (its first input and output at reference i), further inputs
as x{i}.{name} and further outputs as y{i}.{k}; the manifest says the sizes the framework accepts per
axis and, for the zoo's nets, the output shapes it gives there.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

FIXTURES = Path(__file__).parent / "data" / "real_exports"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())
FILES = [(net, kind, f) for net, info in sorted(MANIFEST.items()) for kind, f in sorted(info["files"].items())]
FIXED = [(net, kind, f) for net, kind, f in FILES if kind.endswith("fixed")]
DYNAMIC = [(net, kind, f) for net, kind, f in FILES if kind.endswith("dynamic")]
PRIMARY_ORDER = ("torchscript.dynamic", "tf2onnx.dynamic", "dynamo.dynamic", "torchscript.fixed", "dynamo.fixed",
                 "tf2onnx.fixed")
PRIMARY = [(net, kind, info["files"][kind]) for net, info in sorted(MANIFEST.items())
           for kind in [next(k for k in PRIMARY_ORDER if k in info["files"])]]
TOLERANCE = 1e-4


def ids(cases) -> list[str]:
    return [f for _, _, f in cases]


@lru_cache(maxsize=None)
def load(name: str) -> onnx.ModelProto:
    return onnx.load(str(FIXTURES / name))


def references(net: str) -> list[tuple[dict[str, np.ndarray], list[np.ndarray]]]:
    """(inputs by name, outputs in order) for each stored reference of the net."""
    stored = np.load(FIXTURES / f"{net}.npz")
    found = []
    for i in range(len(MANIFEST[net]["references"])):
        feeds = {"x": stored[f"x{i}"]}
        feeds.update({k.split(".", 1)[1]: stored[k] for k in stored.files if k.startswith(f"x{i}.")})
        outputs = [stored[f"y{i}"]] + [stored[f"y{i}.{k}"] for k in range(1, MANIFEST[net].get("outputs", 1))]
        found.append((feeds, outputs))
    return found


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def run(model_or_session, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    s = model_or_session if isinstance(model_or_session, ort.InferenceSession) else session(model_or_session)
    names = {i.name for i in s.get_inputs()}
    return s.run(None, {k: v for k, v in feeds.items() if k in names})


def zero_feeds(s: ort.InferenceSession, x_shape) -> dict[str, np.ndarray]:
    """Zeros for x at this shape; every other input (timesteps) one zero index per batch item."""
    return {i.name: np.zeros(x_shape, np.float32) if i.name == "x" else np.zeros((x_shape[0],), np.int64)
            for i in s.get_inputs()}


def shapes_at(s: ort.InferenceSession, x_shape) -> str | None:
    """The output shapes onnxruntime gives at this input shape ('1x2x16x16x16;2x8'), None if it refuses."""
    try:
        outs = s.run(None, zero_feeds(s, x_shape))
    except Exception:  # noqa: BLE001 - refusing is an answer here
        return None
    return ";".join("x".join(map(str, np.shape(o))) for o in outs)


def framework_shape(net: str, axis: int, n: int) -> str | None:
    """The output shapes the framework gives with x's axis at n (the others as exported); None where it
    refuses n or the manifest has no shapes for the net."""
    return MANIFEST[net].get("output_shapes", {}).get(str(axis), {}).get(str(n))


def assert_close(got: np.ndarray, want: np.ndarray, where: str) -> None:
    assert got.shape == want.shape, f"{where}: shape {got.shape} instead of {want.shape}"
    if want.size == 0:
        return
    bound = TOLERANCE + TOLERANCE * float(np.max(np.abs(want)))
    err = float(np.max(np.abs(got.astype(np.float64) - want)))
    assert err <= bound, f"{where}: max|a-b| = {err:.3g} > {bound:.3g}"


def runs_at_exported_sizes_only(model: onnx.ModelProto) -> bool:
    """Every input dim is fixed (a fixed-size export)."""
    return all(d.HasField("dim_value") for vi in model.graph.input for d in vi.type.tensor_type.shape.dim)
