"""The zoo: every network in monai.networks.nets that takes 3-D input and that torch exports, at its
smallest widths (each exported file under 2 MB), for make.py (run by hand with torch and MONAI).

Each entry is a ZooNet: how to build it, the size it is exported at, the sizes its references are
computed at (batch 2 and an anisotropic size among them), and any second input (DiffusionModelUNet's
int64 timesteps). Nets whose forward returns a tuple or a list are wrapped so that every tensor is an
output and None is dropped; nets whose forward draws random numbers are exported through their
deterministic path (AutoencoderKL.reconstruct: the mean of the latent). EXCLUDED says, for the
networks in monai.networks.nets that are not here, why.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

CUBE = (1, 1, 32, 32, 32)
PAIR = (1, 2, 16, 16, 16)                               # registration nets: fixed and moving image
PAIR_REFERENCES = ((2, 2, 16, 16, 16), (1, 2, 16, 8, 24))


@dataclass(frozen=True)
class ZooNet:
    build: Callable[[], nn.Module]
    exported: tuple[int, ...] = CUBE
    references: tuple[tuple[int, ...], ...] = ((2, 1, 16, 16, 16), (1, 1, 16, 32, 24))
    extra_inputs: dict = field(default_factory=dict)     # name -> "timesteps" (int64, one per batch item)
    dynamic_spatial: bool = True                        # False: the net is built for one size (a Linear head)
    randomise: bool = True                              # random norm statistics and biases (make.randomise)


class Outputs(nn.Module):
    """Every tensor a net returns, flattened (tuples, lists, None dropped), so an exporter can name them."""

    def __init__(self, net: nn.Module, method: str = "forward"):
        super().__init__()
        self.net, self.method = net, method

    def forward(self, *args):
        return tuple(_tensors(getattr(self.net, self.method)(*args)))


def _tensors(value):
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _tensors(v)]
    return []


def _vnet(width: int = 1) -> nn.Module:
    """MONAI's VNet with its widths (16..256) divided by 16, built from its own blocks: as published it has
    45.6M parameters (182 MB), over the fixture limit; the layout and the ops are VNet's."""
    from monai.networks.nets import VNet
    from monai.networks.nets.vnet import DownTransition, InputTransition, OutputTransition, UpTransition
    net = VNet(3, 1, 2)
    act, w = ("elu", {"inplace": True}), width
    net.in_tr = InputTransition(3, 1, w, act)
    net.down_tr32 = DownTransition(3, w, 1, act)
    net.down_tr64 = DownTransition(3, 2 * w, 2, act)
    net.down_tr128 = DownTransition(3, 4 * w, 3, act)
    net.down_tr256 = DownTransition(3, 8 * w, 2, act)
    net.up_tr256 = UpTransition(3, 16 * w, 16 * w, 2, act)
    net.up_tr128 = UpTransition(3, 16 * w, 8 * w, 2, act)
    net.up_tr64 = UpTransition(3, 8 * w, 4 * w, 1, act)
    net.up_tr32 = UpTransition(3, 4 * w, 2 * w, 1, act)
    net.out_tr = OutputTransition(3, 2 * w, 2, act)
    return net


def _dints() -> nn.Module:
    from monai.networks.nets import DiNTS, TopologyInstance
    space = TopologyInstance(channel_mul=0.125, num_blocks=2, num_depths=2, use_downsample=True)
    return DiNTS(space, in_channels=1, num_classes=2, use_downsample=True)


def _efficientnet() -> nn.Module:
    from monai.networks.nets import EfficientNet
    blocks = ["r1_k3_s11_e1_i32_o16_se0.25", "r1_k3_s22_e6_i16_o24_se0.25", "r1_k5_s22_e6_i24_o40_se0.25"]
    return EfficientNet(blocks, spatial_dims=3, in_channels=1, num_classes=2, width_coefficient=0.25,
                        depth_coefficient=1.0, image_size=32)


def _senet(width: int = 4) -> nn.Module:
    """MONAI's SE-ResNet with its stage widths (64..512) divided by 16, rebuilt with its own _make_layer: as
    published its stages alone hold 17M parameters."""
    from monai.networks.nets import SENet
    from monai.networks.blocks.squeeze_and_excitation import SEResNetBottleneck
    net = SENet(3, 1, SEResNetBottleneck, layers=(1, 1, 1, 1), groups=1, reduction=4, inplanes=2 * width,
                input_3x3=False, downsample_kernel_size=1, num_classes=2, dropout_prob=None)
    net.inplanes = 2 * width
    for i, planes in enumerate((width, 2 * width, 4 * width, 8 * width)):
        setattr(net, f"layer{i + 1}", net._make_layer(SEResNetBottleneck, planes, 1, groups=1, reduction=4,
                                                      stride=1 if i == 0 else 2, downsample_kernel_size=1))
    net.last_linear = nn.Linear(8 * width * SEResNetBottleneck.expansion, 2)
    return net


class _AnyWidth(int):
    """A width SwinUNETR's check accepts: it asks for a multiple of 12 (for its default head counts 3..24);
    with one head per stage any width builds, and 12, the smallest it allows, gives 3.7M parameters."""

    def __mod__(self, other):
        return 0


def _swinunetr() -> nn.Module:
    from monai.networks.nets import SwinUNETR
    return SwinUNETR(1, 2, depths=(1, 1, 1, 1), num_heads=(1, 1, 1, 1), feature_size=_AnyWidth(3), window_size=4)


def zoo() -> dict[str, ZooNet]:
    from monai.networks import nets as m

    def diffusion():
        return m.DiffusionModelUNet(3, 1, 1, num_res_blocks=1, channels=(8, 8), attention_levels=(False, True),
                                    norm_num_groups=4, num_head_channels=8)

    def autoencoder_kl():
        net = m.AutoencoderKL(3, 1, 1, num_res_blocks=1, channels=(4, 8), attention_levels=(False, False),
                              latent_channels=2, norm_num_groups=4, with_encoder_nonlocal_attn=False,
                              with_decoder_nonlocal_attn=False)
        return Outputs(net, "reconstruct")

    f6 = (4, 4, 8, 8, 16, 4)
    bottleneck_2 = ((2, 1, 32, 16, 16), (1, 1, 16, 32, 48))     # instance norm needs 2 voxels at 1/16
    return {
        "monai_basicunet": ZooNet(lambda: m.BasicUNet(3, 1, 2, features=f6), references=bottleneck_2),
        "monai_basicunet_pixelshuffle": ZooNet(lambda: m.BasicUNet(3, 1, 2, features=f6, upsample="pixelshuffle"),
                                               references=bottleneck_2),
        "monai_basicunet_nontrainable": ZooNet(lambda: m.BasicUNet(3, 1, 2, features=f6, upsample="nontrainable"),
                                               references=bottleneck_2),
        "monai_basicunetplusplus": ZooNet(lambda: Outputs(m.BasicUNetPlusPlus(3, 1, 2, features=f6)),
                                          references=bottleneck_2),
        "monai_unet_plain": ZooNet(lambda: m.UNet(3, 1, 2, channels=(4, 8, 16), strides=(2, 2), num_res_units=0)),
        "monai_segresnet_default": ZooNet(lambda: m.SegResNet(3, init_filters=2, in_channels=1, out_channels=2,
                                                               norm=("GROUP", {"num_groups": 2}))),
        "monai_segresnetds": ZooNet(lambda: Outputs(m.SegResNetDS(3, init_filters=4, in_channels=1, out_channels=2,
                                                                  blocks_down=(1, 2, 2)))),
        "monai_segresnetvae": ZooNet(lambda: Outputs(m.SegResNetVAE((32, 32, 32), init_filters=4, vae_nz=8,
                                                                    norm=("GROUP", {"num_groups": 4}),
                                                                    blocks_down=(1, 2, 2), blocks_up=(1, 1)))),
        "monai_unetr_perceptron": ZooNet(lambda: m.UNETR(1, 2, img_size=(32, 32, 32), feature_size=4, hidden_size=12,
                                                         mlp_dim=24, num_heads=2, proj_type="perceptron"),
                                         references=((2, 1, 32, 32, 32),), dynamic_spatial=False),
        "monai_swinunetr": ZooNet(_swinunetr,
                                  exported=(1, 1, 32, 32, 64), references=((2, 1, 32, 32, 64), (1, 1, 64, 32, 32))),
        "monai_vnet": ZooNet(_vnet, references=((2, 1, 32, 32, 32), (1, 1, 16, 32, 48))),
        "monai_highresnet": ZooNet(lambda: m.HighResNet(3, 1, 2, layer_params=(
            {"name": "conv_0", "n_features": 4, "kernel_size": 3},
            {"name": "res_1", "n_features": 4, "kernels": (3, 3), "repeat": 1},
            {"name": "res_2", "n_features": 8, "kernels": (3, 3), "repeat": 1},
            {"name": "res_3", "n_features": 16, "kernels": (3, 3), "repeat": 1},
            {"name": "conv_1", "n_features": 16, "kernel_size": 1},
            {"name": "conv_2", "kernel_size": 1}))),
        "monai_mednext": ZooNet(lambda: m.MedNeXt(3, init_filters=4, in_channels=1, out_channels=2, kernel_size=3,
                                                  blocks_down=(1, 1, 1, 1), blocks_bottleneck=1,
                                                  blocks_up=(1, 1, 1, 1)),
                                references=((2, 1, 16, 16, 16), (1, 1, 16, 32, 48))),
        "monai_dints": ZooNet(_dints),
        "monai_densenet": ZooNet(lambda: m.DenseNet(3, 1, 2, init_features=8, growth_rate=4, block_config=(2, 2),
                                                    bn_size=2)),
        "monai_resnet": ZooNet(lambda: m.ResNet("basic", [1, 1, 1, 1], [4, 8, 16, 32], spatial_dims=3,
                                                n_input_channels=1, num_classes=2)),
        "monai_efficientnet": ZooNet(_efficientnet),
        "monai_senet": ZooNet(_senet),
        "monai_autoencoder": ZooNet(lambda: m.AutoEncoder(3, 1, 1, channels=(4, 8, 16), strides=(2, 2, 2))),
        "monai_varautoencoder": ZooNet(lambda: Outputs(m.VarAutoEncoder(3, (1, 32, 32, 32), 1, latent_size=8,
                                                                        channels=(4, 8), strides=(2, 2))),
                                       references=((2, 1, 32, 32, 32),), dynamic_spatial=False),
        "monai_vqvae": ZooNet(lambda: Outputs(m.VQVAE(3, 1, 1, channels=(4, 8), num_res_layers=1,
                                                      num_res_channels=(4, 8),
                                                      downsample_parameters=((2, 4, 1, 1), (2, 4, 1, 1)),
                                                      upsample_parameters=((2, 4, 1, 1, 0), (2, 4, 1, 1, 0)),
                                                      num_embeddings=16, embedding_dim=4))),
        "monai_vit": ZooNet(lambda: Outputs(m.ViT(1, 32, 8, hidden_size=24, mlp_dim=48, num_layers=2, num_heads=2,
                                                  classification=True)),
                            references=((2, 1, 32, 32, 32),), dynamic_spatial=False),
        "monai_vitautoenc": ZooNet(lambda: Outputs(m.ViTAutoEnc(1, 32, 16, deconv_chns=4, hidden_size=24, mlp_dim=48,
                                                                num_layers=2, num_heads=2)),
                                   references=((2, 1, 32, 32, 32),), dynamic_spatial=False),
        "monai_regunet": ZooNet(lambda: m.RegUNet(3, 2, num_channel_initial=4, depth=2),
                                exported=PAIR, references=PAIR_REFERENCES),
        "monai_localnet": ZooNet(lambda: m.LocalNet(3, 2, num_channel_initial=4, extract_levels=(0, 1, 2)),
                                 exported=PAIR, references=PAIR_REFERENCES),
        "monai_globalnet": ZooNet(lambda: m.GlobalNet([16, 16, 16], 3, 2, num_channel_initial=4, depth=2),
                                  exported=PAIR, references=PAIR_REFERENCES[:1], dynamic_spatial=False),
        "monai_voxelmorphunet": ZooNet(lambda: m.VoxelMorphUNet(3, 2, 3, channels=(4, 8, 8, 8),
                                                                final_conv_channels=(4, 4)),
                                       exported=PAIR, references=PAIR_REFERENCES),
        "monai_generator": ZooNet(lambda: m.Generator((64,), (8, 4, 4, 4), channels=(8, 4, 1), strides=(2, 2, 1),
                                                      num_res_units=1),
                                  exported=(1, 64), references=((2, 64),), dynamic_spatial=False),
        "monai_regressor": ZooNet(lambda: m.Regressor((1, 32, 32, 32), (2,), channels=(4, 8, 16), strides=(2, 2, 2),
                                                      num_res_units=1),
                                  references=((2, 1, 32, 32, 32),), dynamic_spatial=False),
        "monai_discriminator": ZooNet(lambda: m.Discriminator((1, 32, 32, 32), channels=(4, 8, 16),
                                                              strides=(2, 2, 2), num_res_units=1, dropout=None),
                                      references=((2, 1, 32, 32, 32),), dynamic_spatial=False),
        "monai_critic": ZooNet(lambda: m.Critic((1, 32, 32, 32), channels=(4, 8, 16), strides=(2, 2, 2),
                                                num_res_units=1, dropout=None),
                               references=((2, 1, 32, 32, 32),), dynamic_spatial=False),
        "monai_diffusionunet": ZooNet(diffusion, extra_inputs={"timesteps": "timesteps"}, exported=(1, 1, 16, 16, 16),
                                      references=((2, 1, 16, 16, 16), (1, 1, 16, 8, 24))),
        "monai_autoencoderkl": ZooNet(autoencoder_kl),
        "monai_patchdiscriminator": ZooNet(lambda: Outputs(m.PatchDiscriminator(3, channels=4, in_channels=1,
                                                                                num_layers_d=2))),
    }


EXCLUDED = {
    "AHNet": "its ResNet-50-style encoder has fixed widths (64-2048): 28M parameters, over the 2 MB fixture limit",
    "DAF3D": "a fixed ResNeXt-50 backbone (27M parameters), over the 2 MB fixture limit",
    "VISTA3D, SPADE*, ControlNet, MultiScalePatchDiscriminator, HyenaNDUNETR": "need several conditioning inputs "
                                                                               "or fixed large widths",
    "FlexibleUNet, HoVerNet, Quicknat, MILModel, NaViT, Transchex, TorchVisionFCModel": "2-D only or need "
                                                                                        "torchvision weights",
}
