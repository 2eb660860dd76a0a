"""Graph rewrites, one per module; importing this package registers them all (see passes._registry)."""
from passes import convtranspose_to_subpixel  # noqa: F401  (registers the pass)
