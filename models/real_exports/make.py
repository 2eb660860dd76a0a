"""Export the real-export fixtures with the frameworks themselves (run by hand, not in CI).

Each net is exported by torch.onnx (TorchScript and dynamo exporters, where they work) at a fixed size
and with dynamic batch and spatial dims, and its PyTorch outputs at a few input sizes (batch 2 among
them) are stored beside it, so the tests compare onnxport against the framework without needing it.
The framework is also asked which sizes it accepts: each spatial axis is tried from 1 to PROBE_UP_TO
with the other axes at the exported size, and the sizes where the PyTorch forward pass runs are
recorded as ground truth for `onnxport sizes`.

    python -m venv /tmp/exp && /tmp/exp/bin/pip install torch==2.13.0 monai onnx onnxscript
    /tmp/exp/bin/python models/real_exports/make.py tests/data/real_exports [NET ...]

With net names, only those are (re)made and their manifest entries replaced; the zoo's nets are listed
in monai_zoo.py.

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

from fixtures import inputs, merge_manifest  # noqa: E402 (sibling modules: this runs as a script)
from monai_zoo import ZooNet, zoo  # noqa: E402

OPSET = 17              # TorchScript exporter
DYNAMO_OPSET = 18       # the dynamo exporter's lowest
PROBE_UP_TO = 48
MAX_BYTES = 2_000_000   # a fixture larger than this is a configuration too wide for the zoo


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


class ResampleFixedSize(nn.Module):
    """A trilinear resample to a fixed 32^3 whatever the input size (F.interpolate(size=...)), between Convs."""

    def __init__(self):
        super().__init__()
        self.head = nn.Conv3d(2, 4, 3, padding=1)
        self.out = nn.Conv3d(4, 2, 1)

    def forward(self, x):
        y = F.interpolate(torch.relu(self.head(x)), size=(32, 32, 32), mode="trilinear", align_corners=False)
        return self.out(y)


class Generator3d(nn.Module):
    """A DCGAN-style 3-D generator: a latent z of (N, 64, 1, 1, 1) up to 32^3 by four ConvTranspose3d."""

    def __init__(self, latent: int = 64):
        super().__init__()
        widths = (latent, 32, 16, 8)
        layers = []
        for i, (cin, cout) in enumerate(zip(widths, widths[1:])):
            layers += [nn.ConvTranspose3d(cin, cout, 4, 1 if i == 0 else 2, 0 if i == 0 else 1, bias=False),
                       nn.BatchNorm3d(cout), nn.ReLU()]
        self.body = nn.Sequential(*layers, nn.ConvTranspose3d(widths[-1], 1, 4, 2, 1), nn.Tanh())

    def forward(self, z):
        return self.body(z)


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
    """name -> ZooNet: the hand-made nets and the first MONAI nets (as they were exported, weights as
    initialised), then the zoo (monai_zoo.py: random norm statistics and biases)."""
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
    first = {name: ZooNet(builders[name], tuple(shape), tuple(map(tuple, refs)), randomise=False)
             for name, (shape, refs) in spec.items()}
    latent = {"dcgan3d_generator": ZooNet(Generator3d, exported=(1, 64, 1, 1, 1),
                                          references=((2, 64, 1, 1, 1), (1, 64, 2, 1, 3))),
              "resample_fixed_size": ZooNet(ResampleFixedSize, exported=(1, 2, 16, 16, 16),
                                            references=((2, 2, 16, 16, 16), (1, 2, 8, 12, 20)))}
    return {**first, **latent, **zoo()}


def randomise(net: nn.Module, seed: int = 0) -> None:
    """Norm statistics and affine parameters, and biases left at zero, made random and non-trivial, so a
    rewrite that drops or misplaces one shows in the outputs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in net.modules():
            for name, t in list(module.named_parameters(recurse=False)) + list(module.named_buffers(recurse=False)):
                if not t.is_floating_point() or t.numel() == 0:
                    continue
                noise = torch.randn(t.shape, generator=g)
                if name == "running_var":
                    t.copy_(0.5 + torch.rand(t.shape, generator=g))
                elif name == "running_mean":
                    t.copy_(0.2 * noise)
                elif bool(torch.all(t == 1)):
                    t.copy_(1 + 0.2 * noise)
                elif bool(torch.all(t == 0)):
                    t.copy_(0.1 * noise)


def feeds(z: ZooNet, shape, seed: int) -> dict[str, np.ndarray]:
    """The net's inputs at this shape: x seeded normal, timesteps valid indices (0..999), one per item."""
    out = {"x": inputs(shape, seed)}
    for name in z.extra_inputs:
        out[name] = np.random.default_rng(seed).integers(0, 1000, size=(shape[0],)).astype(np.int64)
    return out


def run(net: nn.Module, given: dict[str, np.ndarray]) -> list[np.ndarray]:
    with torch.no_grad():
        out = net(*(torch.from_numpy(v) for v in given.values()))
    return [t.numpy() for t in (out if isinstance(out, tuple) else (out,))]


def probe_range(z: ZooNet) -> int:
    return max(PROBE_UP_TO, max(z.exported[2:], default=0))


def accepted_sizes(net: nn.Module, z: ZooNet) -> tuple[dict, dict]:
    """Per spatial axis: the sizes 1..probe at which PyTorch runs the net, the others as exported, and the
    output shapes it gives there ('2x1x16x16x16;2x8' for two outputs)."""
    found, shapes = {}, {}
    for axis in range(2, len(z.exported)) if z.dynamic_spatial else ():
        found[str(axis)], shapes[str(axis)] = [], {}
        for n in range(1, probe_range(z) + 1):
            shape = list(z.exported)
            shape[axis] = n
            try:
                outs = run(net, feeds(z, shape, 0))
            except (RuntimeError, ValueError, IndexError, AssertionError):
                continue
            found[str(axis)].append(n)
            shapes[str(axis)][str(n)] = ";".join("x".join(map(str, o.shape)) for o in outs)
    return found, shapes


def export(net: nn.Module, z: ZooNet, path: Path, *, dynamo: bool, dynamic: bool) -> bool:
    args = tuple(torch.from_numpy(v) for v in feeds(z, z.exported, 0).values())
    names = ["x", *z.extra_inputs]
    outputs = len(run(net, feeds(z, z.exported, 0)))
    output_names = ["y"] + [f"y{k}" for k in range(1, outputs)]
    rank = len(z.exported)
    spatial = range(2, rank) if z.dynamic_spatial else ()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if dynamo:
                auto = torch.export.Dim.AUTO
                dims = {"x": {0: auto, **{a: auto for a in spatial}}, **{n: {0: auto} for n in z.extra_inputs}}
                torch.onnx.export(net, args, str(path), dynamo=True, opset_version=DYNAMO_OPSET,
                                  input_names=names, output_names=output_names,
                                  dynamic_shapes=dims if dynamic else None, verbose=False)
            else:
                axes = {"x": {0: "N", **{a: "DHW"[a - 2] if rank == 5 else f"S{a}" for a in spatial}},
                        **{n: {0: "N"} for n in z.extra_inputs}}
                torch.onnx.export(net, args, str(path), dynamo=False, opset_version=OPSET, input_names=names,
                                  output_names=output_names, dynamic_axes=axes if dynamic else None)
        model = onnx.load(str(path))            # the dynamo exporter writes weights beside: keep one file
        path.with_name(path.name + ".data").unlink(missing_ok=True)
        onnx.save(model, str(path))
        onnx.checker.check_model(str(path))
        if path.stat().st_size > MAX_BYTES:
            raise ValueError(f"{path.stat().st_size} bytes, over the {MAX_BYTES}-byte fixture limit")
        return True
    except Exception as e:  # noqa: BLE001 - an exporter that cannot take this net is recorded and skipped
        print(f"  {path.name}: not exported ({type(e).__name__}: {str(e).splitlines()[0][:160]})")
        path.unlink(missing_ok=True)
        return False


def make(name: str, z: ZooNet, out: Path) -> dict:
    torch.manual_seed(0)
    net = z.build().eval()
    if z.randomise:
        randomise(net)
    print(name, flush=True)
    arrays, shapes = {}, [z.exported, *z.references]
    for i, shape in enumerate(shapes):
        given = feeds(z, shape, i)
        for k, (key, value) in enumerate(given.items()):
            arrays[f"x{i}" if k == 0 else f"x{i}.{key}"] = value
        for k, value in enumerate(run(net, given)):
            arrays[f"y{i}" if k == 0 else f"y{i}.{k}"] = value
    np.savez_compressed(out / f"{name}.npz", **arrays)
    files = {}
    for exporter in ("torchscript", "dynamo"):
        for kind in ("fixed", "dynamic"):
            path = out / f"{name}.{exporter}.{kind}.onnx"
            if export(net, z, path, dynamo=exporter == "dynamo", dynamic=kind == "dynamic"):
                files[f"{exporter}.{kind}"] = path.name
    accepted, output_shapes = accepted_sizes(net, z)
    entry = {"framework": f"torch {torch.__version__}", "exported": list(z.exported),
             "references": [list(s) for s in shapes], "files": files, "accepted": accepted,
             "probe_up_to": probe_range(z)}
    if z.randomise:           # the zoo's fields (the first nets' entries stay as they were made)
        entry.update({"output_shapes": output_shapes, "extra_inputs": dict(z.extra_inputs),
                      "outputs": len(run(net, feeds(z, z.exported, 0))), "dynamic_spatial": z.dynamic_spatial})
    return entry


def main(folder: str, names: list[str]) -> None:
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    table = nets()
    unknown = set(names) - set(table)
    if unknown:
        raise SystemExit(f"unknown nets: {sorted(unknown)}")
    manifest = {name: make(name, z, out) for name, z in table.items() if not names or name in names}
    merge_manifest(out, manifest)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/real_exports", sys.argv[2:])
