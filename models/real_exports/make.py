"""Export the real-export fixtures with the frameworks themselves (run by hand, not in CI).

Each net is exported by torch.onnx (TorchScript and dynamo exporters, where they work) at a fixed size
and with dynamic batch and spatial dims, and its PyTorch outputs at a few input sizes (batch 2 among
them) are stored beside it, so the tests compare onnxport against the framework without needing it.
The framework is also asked which sizes it accepts: each spatial axis is tried from 1 to PROBE_UP_TO
with the other axes at the exported size, and the sizes where the PyTorch forward pass runs are
recorded as ground truth for `onnxport sizes`.

    python -m venv /tmp/exp && /tmp/exp/bin/pip install torch==2.13.0 monai onnx onnxscript
    /tmp/exp/bin/python models/real_exports/make.py tests/data/real_exports

Keras/TensorFlow nets come from make_keras.py (its own venv: TensorFlow's pins clash with torch's).
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn
from torch.nn import functional as F

from fixtures import inputs, merge_manifest  # noqa: E402 (a sibling module: this runs as a script)

OPSET = 17              # TorchScript exporter
DYNAMO_OPSET = 18       # the dynamo exporter's lowest
PROBE_UP_TO = 48


class DepthIntoBatch(nn.Module):
    """A 2-D conv applied per depth slice by folding depth into the batch, then a 3-D deconvolution."""

    def __init__(self, channels: int = 4):
        super().__init__()
        self.conv2d = nn.Conv2d(channels, 8, 3, padding=1)
        self.up = nn.ConvTranspose3d(8, 2, 2, stride=2)
        self.channels = channels

    def forward(self, x):
        n, c, d, h, w = x.shape
        y = x.permute(0, 2, 1, 3, 4).reshape(n * d, c, h, w)
        y = torch.relu(self.conv2d(y))
        y = y.reshape(n, d, 8, h, w).permute(0, 2, 1, 3, 4)
        return self.up(y)


class Decoder3d(nn.Module):
    """A 3-D decoder that up-samples x8: trilinear, nearest, then a stride-2 ConvTranspose3d."""

    def __init__(self):
        super().__init__()
        self.head = nn.Conv3d(4, 8, 3, padding=1)
        self.mid = nn.Conv3d(8, 8, 3, padding=1)
        self.up = nn.ConvTranspose3d(8, 4, 2, stride=2)
        self.out = nn.Conv3d(4, 1, 3, padding=1)

    def forward(self, x):
        y = torch.relu(self.head(x))
        y = F.interpolate(y, scale_factor=2, mode="trilinear", align_corners=False)
        y = torch.relu(self.mid(y))
        y = F.interpolate(y, scale_factor=2, mode="nearest")
        return self.out(torch.relu(self.up(y)))


def monai_nets() -> dict:
    from monai.networks.nets import UNETR, AttentionUnet, DynUNet, SegResNet, UNet
    return {
        "monai_unet": lambda: UNet(3, 1, 2, channels=(4, 8, 16, 32), strides=(2, 2, 2), num_res_units=1),
        "monai_dynunet": lambda: DynUNet(3, 1, 2, kernel_size=[3, 3, 3, 3], strides=[1, 2, 2, 2],
                                         upsample_kernel_size=[2, 2, 2], filters=[4, 8, 16, 32]),
        "monai_dynunet_aniso": lambda: DynUNet(3, 1, 2, kernel_size=[3, 3, 3], strides=[1, (2, 2, 1), (2, 2, 1)],
                                               upsample_kernel_size=[(2, 2, 1), (2, 2, 1)], filters=[4, 8, 16]),
        "monai_segresnet": lambda: SegResNet(3, init_filters=8, in_channels=1, out_channels=2, blocks_down=(1, 2, 2),
                                             blocks_up=(1, 1)),
        "monai_attentionunet": lambda: AttentionUnet(3, 1, 2, channels=(4, 8, 16), strides=(2, 2)),
        "monai_unetr": lambda: UNETR(1, 2, img_size=(32, 32, 32), feature_size=4, hidden_size=24, mlp_dim=48,
                                     num_heads=2),
    }


def nets() -> dict:
    """name -> (builder, exported input shape, reference input shapes)."""
    spec = {
        "monai_unet": ((1, 1, 32, 32, 32), [(1, 1, 16, 16, 16), (1, 1, 24, 16, 40), (2, 1, 16, 16, 16)]),
        "monai_dynunet": ((1, 1, 32, 32, 32), [(1, 1, 16, 16, 16), (1, 1, 24, 16, 40), (2, 1, 16, 16, 16)]),
        "monai_dynunet_aniso": ((1, 1, 32, 32, 16), [(1, 1, 16, 16, 5), (1, 1, 24, 12, 9), (2, 1, 16, 16, 5)]),
        "monai_segresnet": ((1, 1, 32, 32, 32), [(1, 1, 16, 16, 16), (1, 1, 24, 16, 40), (2, 1, 16, 16, 16)]),
        "monai_attentionunet": ((1, 1, 32, 32, 32), [(1, 1, 16, 16, 16), (1, 1, 24, 16, 40), (2, 1, 16, 16, 16)]),
        "monai_unetr": ((1, 1, 32, 32, 32), [(2, 1, 32, 32, 32)]),
        "depth_into_batch": ((1, 4, 8, 16, 16), [(1, 4, 5, 12, 20), (2, 4, 8, 16, 16), (3, 4, 3, 7, 9)]),
        "decoder3d": ((1, 4, 4, 4, 4), [(1, 4, 3, 5, 6), (2, 4, 4, 4, 4), (3, 4, 2, 3, 1)]),
    }
    builders = {**monai_nets(), "depth_into_batch": DepthIntoBatch, "decoder3d": Decoder3d}
    return {name: (builders[name], *spec[name]) for name in spec}


def run(net: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return net(torch.from_numpy(x)).numpy()


def runs_at(net: nn.Module, shape) -> bool:
    try:
        run(net, np.zeros(shape, np.float32))
        return True
    except (RuntimeError, ValueError, IndexError, AssertionError):
        return False


def accepted_sizes(net: nn.Module, exported) -> dict[str, list[int]]:
    """Per spatial axis: the sizes 1..PROBE_UP_TO at which PyTorch runs the net, the others as exported."""
    found = {}
    for axis in range(2, len(exported)):
        shape = list(exported)
        found[str(axis)] = [n for n in range(1, PROBE_UP_TO + 1)
                            if runs_at(net, shape[:axis] + [n] + shape[axis + 1:])]
    return found


def export(net: nn.Module, shape, path: Path, *, dynamo: bool, dynamic: bool) -> bool:
    x = torch.from_numpy(inputs(shape, 0))
    rank = len(shape)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if dynamo:
                dims = {0: torch.export.Dim.AUTO, **{a: torch.export.Dim.AUTO for a in range(2, rank)}}
                torch.onnx.export(net, (x,), str(path), dynamo=True, opset_version=DYNAMO_OPSET,
                                  input_names=["x"], output_names=["y"],
                                  dynamic_shapes={"x": dims} if dynamic else None, verbose=False)
            else:
                names = {0: "N", **{a: "DHW"[a - 2] if rank == 5 else f"S{a}" for a in range(2, rank)}}
                torch.onnx.export(net, (x,), str(path), dynamo=False, opset_version=OPSET, input_names=["x"],
                                  output_names=["y"], dynamic_axes={"x": names} if dynamic else None)
        model = onnx.load(str(path))            # the dynamo exporter writes weights beside: keep one file
        path.with_name(path.name + ".data").unlink(missing_ok=True)
        onnx.save(model, str(path))
        onnx.checker.check_model(str(path))
        return True
    except Exception as e:  # noqa: BLE001 - an exporter that cannot take this net is recorded and skipped
        print(f"  {path.name}: not exported ({type(e).__name__}: {str(e).splitlines()[0][:160]})")
        path.unlink(missing_ok=True)
        return False


def main(folder: str) -> None:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for name, (build, exported, references) in nets().items():
        torch.manual_seed(0)
        net = build().eval()
        print(name)
        arrays, shapes = {}, [exported] + references
        for i, shape in enumerate(shapes):
            x = inputs(shape, i)
            arrays[f"x{i}"], arrays[f"y{i}"] = x, run(net, x)
        np.savez(out / f"{name}.npz", **arrays)
        files = {}
        for exporter in ("torchscript", "dynamo"):
            for kind in ("fixed", "dynamic"):
                path = out / f"{name}.{exporter}.{kind}.onnx"
                if export(net, exported, path, dynamo=exporter == "dynamo", dynamic=kind == "dynamic"):
                    files[f"{exporter}.{kind}"] = path.name
        manifest[name] = {"framework": f"torch {torch.__version__}", "exported": list(exported),
                          "references": [list(s) for s in shapes], "files": files,
                          "accepted": accepted_sizes(net, list(exported)), "probe_up_to": PROBE_UP_TO}
    merge_manifest(out, manifest)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/real_exports")
