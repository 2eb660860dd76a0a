"""Export the Keras real-export fixtures through tf2onnx (run by hand, in a venv of its own).

Like make.py: each net is exported at a fixed size and with free batch and spatial dims, its
TensorFlow outputs at a few sizes are stored beside it, and TensorFlow is asked which sizes it accepts
per spatial axis. Keras nets are channels-last (N, D, H, W, C): tf2onnx wraps each Conv in Transposes.

    python -m venv /tmp/tfexp && /tmp/tfexp/bin/pip install tensorflow tf2onnx
    /tmp/tfexp/bin/python models/real_exports/make_keras.py tests/data/real_exports
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf2onnx

from fixtures import inputs, merge_manifest  # noqa: E402 (a sibling module: this runs as a script)

OPSET = 17
PROBE_UP_TO = 48
layers = tf.keras.layers


def unet3d(channels: int = 2) -> tf.keras.Model:
    """Two levels: Conv3D/BatchNorm/MaxPool down, Conv3DTranspose up, skip joined by Concatenate."""
    x = inp = tf.keras.Input((None, None, None, channels))
    skip = layers.Conv3D(4, 3, padding="same", activation="relu")(x)
    x = layers.BatchNormalization()(layers.MaxPool3D(2)(skip))
    x = layers.Conv3D(8, 3, padding="same", activation="relu")(x)
    x = layers.Conv3DTranspose(4, 2, strides=2, padding="same")(x)
    x = layers.Concatenate()([x, skip])
    return tf.keras.Model(inp, layers.Conv3D(1, 1)(x))


def deconv3d(padding: str, channels: int = 2) -> tf.keras.Model:
    x = inp = tf.keras.Input((None, None, None, channels))
    x = layers.Conv3D(4, 3, padding=padding, activation="relu")(x)
    x = layers.Conv3DTranspose(4, 3, strides=2, padding=padding)(x)
    x = layers.BatchNormalization()(x)
    return tf.keras.Model(inp, layers.Conv3DTranspose(1, 3, strides=2, padding=padding)(x))


NETS = {
    "keras_unet3d": (unet3d, (1, 16, 16, 16, 2), [(1, 8, 12, 20, 2), (2, 16, 16, 16, 2), (3, 4, 8, 6, 2)]),
    "keras_convt3d_same": (lambda: deconv3d("same"), (1, 8, 8, 8, 2), [(1, 5, 7, 6, 2), (2, 8, 8, 8, 2)]),
    "keras_convt3d_valid": (lambda: deconv3d("valid"), (1, 8, 8, 8, 2), [(1, 5, 7, 6, 2), (2, 8, 8, 8, 2)]),
}


def runs_at(model: tf.keras.Model, shape) -> bool:
    try:
        model(np.zeros(shape, np.float32), training=False)
        return True
    except (tf.errors.InvalidArgumentError, ValueError):
        return False


def accepted_sizes(model: tf.keras.Model, exported) -> dict[str, list[int]]:
    found = {}
    for axis in range(1, len(exported) - 1):
        shape = list(exported)
        found[str(axis)] = [n for n in range(1, PROBE_UP_TO + 1)
                            if runs_at(model, shape[:axis] + [n] + shape[axis + 1:])]
    return found


def export(model: tf.keras.Model, shape, path: Path, dynamic: bool) -> None:
    dims = (None,) * (len(shape) - 1) + (shape[-1],) if dynamic else tuple(shape)
    spec = (tf.TensorSpec(dims, tf.float32, name="x"),)

    @tf.function(input_signature=spec)
    def forward(x):
        return {"y": model(x, training=False)}

    tf2onnx.convert.from_function(forward, input_signature=spec, opset=OPSET, output_path=str(path))


def main(folder: str) -> None:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for name, (build, exported, references) in NETS.items():
        tf.keras.utils.set_random_seed(0)
        model = build()
        for layer in model.layers:                   # moving statistics other than 0/1, so BatchNorm computes
            if isinstance(layer, layers.BatchNormalization):
                n = layer.moving_mean.shape[0]
                layer.moving_mean.assign(np.linspace(-0.5, 0.5, n).astype(np.float32))
                layer.moving_variance.assign(np.linspace(0.5, 2.0, n).astype(np.float32))
        arrays, shapes = {}, [exported] + references
        for i, shape in enumerate(shapes):
            x = inputs(shape, i)
            arrays[f"x{i}"], arrays[f"y{i}"] = x, model(x, training=False).numpy()
        np.savez(out / f"{name}.npz", **arrays)
        files = {}
        for kind in ("fixed", "dynamic"):
            path = out / f"{name}.tf2onnx.{kind}.onnx"
            export(model, exported, path, dynamic=kind == "dynamic")
            files[f"tf2onnx.{kind}"] = path.name
        manifest[name] = {"framework": f"tensorflow {tf.__version__}, tf2onnx {tf2onnx.__version__}",
                          "exported": list(exported), "references": [list(s) for s in shapes], "files": files,
                          "accepted": accepted_sizes(model, list(exported)), "probe_up_to": PROBE_UP_TO}
    merge_manifest(out, manifest)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/real_exports")
