"""Graph rewrites, one per module; importing this package registers them all (see passes._registry)."""
from passes import (  # noqa: F401  (importing registers them)
    convtranspose3d_to_convtranspose2d,
    convtranspose_to_resize_conv,
    convtranspose_to_subpixel,
)
