"""onnxport: port ONNX models onto runtimes that lack an operator, without changing what they compute.

The repository's root is the `onnxport` package (converter/, passes/, models/ and cli.py install as
onnxport.converter, onnxport.passes, onnxport.models, onnxport.cli). The public API is here:

    import onnxport
    report = onnxport.convert("model.onnx", "model_port.onnx")        # str, os.PathLike or ModelProto
    result = onnxport.verify("model.onnx", "model_port.onnx")
    assert result.ok, result.summary()

Names are resolved on first use (PEP 562), so `onnxport --help` and `import onnxport.cli` load no
numerical library.
"""
from __future__ import annotations

# public name -> (module, attribute)
_PUBLIC = {
    "convert": ("onnxport.converter.api", "convert"),
    "convert_model": ("onnxport.converter.api", "convert_model"),
    "verify": ("onnxport.converter.api", "verify"),
    "verify_models": ("onnxport.converter.api", "verify_models"),
    "sizes": ("onnxport.converter.api", "admissible_sizes"),
    "shapes": ("onnxport.converter.api", "node_shapes"),
    "strip_sizes": ("onnxport.converter.api", "strip_sizes"),
    "fix_sizes": ("onnxport.converter.api", "fix_sizes"),
    "inspect": ("onnxport.converter.api", "inspect"),
    "list_passes": ("onnxport.converter.api", "list_passes"),
    "render_report": ("onnxport.converter.api", "render_report"),
    "ConvertOptions": ("onnxport.converter.api", "ConvertOptions"),
    "VerifyOptions": ("onnxport.converter.api", "VerifyOptions"),
    "Alignment": ("onnxport.converter.api", "Alignment"),
    "VerifyResult": ("onnxport.converter.verification.verify", "VerifyResult"),
    "OnnxportError": ("onnxport.errors", "OnnxportError"),
    "ResultError": ("onnxport.errors", "ResultError"),
}
__all__ = sorted(_PUBLIC) + ["__version__"]


def __getattr__(name: str):
    if name == "__version__":               # read on demand: importlib.metadata costs the console script's start
        return _version()
    if name not in _PUBLIC:
        raise AttributeError(f"module 'onnxport' has no attribute '{name}'")
    from importlib import import_module
    module, attribute = _PUBLIC[name]
    value = getattr(import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


def _version() -> str:
    from importlib import metadata
    try:
        return metadata.version("onnxport")
    except metadata.PackageNotFoundError:          # a checkout that was not installed
        return "0+checkout"
