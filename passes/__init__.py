"""Graph rewrites, one per module; importing this package registers them all (see passes._registry)."""
from passes import (  # noqa: F401  (importing registers them)
    conv_upsample_to_convtranspose,
    convtranspose3d_to_convtranspose2d,
    convtranspose_to_resize_conv,
    convtranspose_to_subpixel,
    fold_convtranspose_bias,
    fold_convtranspose_crop,
    fuse_lowered,
    normalize_convtranspose_padding,
    resize4d_chain_to_resize5d,
    resize5d_to_resize4d,
    upsample_conv_to_convtranspose,
)
