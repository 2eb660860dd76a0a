"""What names a model on the command line (a file or example:NAME), checked without importing onnx.

The command line checks its model arguments with this before the library is imported (a second), so a
mistyped path is answered at once; model_io.load applies the same check to every caller.
"""
from __future__ import annotations

from pathlib import Path

from onnxport.errors import BadInput

EXAMPLE_PREFIX = "example:"


def check_file(spec: str) -> None:
    """BadInput when `spec` names no model file (example:NAME is checked where examples are known)."""
    if spec.startswith(EXAMPLE_PREFIX):
        return
    path = Path(spec)
    try:
        exists, is_file = path.exists(), path.is_file()
    except OSError as e:                            # a name longer than the file system takes, say
        raise BadInput(f"{spec[:200]}: cannot be read ({e.strerror or e})") from None
    if not exists:
        raise BadInput(f"{spec}: no such file")
    if not is_file:
        raise BadInput(f"{spec}: not a file")
