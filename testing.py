"""Equivalence checks for other projects' tests (a pytest plugin, registered through the pytest11 entry point).

    from onnxport.testing import assert_equivalent

    def test_the_port_computes_what_the_original_did():
        assert_equivalent("model.onnx", "model_port.onnx", atol=1e-5)

    def test_porting_in_one_line(onnxport_port):
        port = onnxport_port("model.onnx", targets=["no-convtranspose3d"])
        assert port.path.exists() and port.report.ok

A failure says which output differs, at which input sizes, by how much, where the worst element is, the
bound it broke and the first intermediate tensor that already differed. Loading the plugin imports
nothing numerical: that happens at the first check.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest


def assert_equivalent(a, b, *, atol: float = 1e-4, rtol: float = 1e-4, shapes: dict | None = None, runs: int = 3,
                      provider: str = "auto"):
    """Run both models (paths, example:NAME or ModelProtos) on the same inputs and raise AssertionError
    with a readable message when any output differs beyond atol + rtol*max|a|. Returns the VerifyResult."""
    from onnxport.converter import api
    result = api.verify(a, b, api.VerifyOptions(shapes=dict(shapes or {}), atol=atol, rtol=rtol, provider=provider, runs=runs))
    if not result.ok:
        raise AssertionError(failure_message(result))
    return result


def failure_message(result) -> str:
    """The lines a CI log needs to see why two models differ."""
    from onnxport.converter.input_specs import sizes_text
    failed = next(r for r in result.runs if not r.ok)
    lines = [f"the models differ at {sizes_text(failed.shapes)} ({failed.why or 'verification run'})"]
    if failed.failure:
        lines.append(f"  {failed.failure}")
    for o in failed.outputs:
        if o.ok:
            continue
        lines.append(f"  output '{o.name}': max|a-b| = {o.max_abs_error:.4g}"
                     + (f" at index {tuple(o.worst_at)}" if o.worst_at else "")
                     + f" > bound {o.bound:.4g} = {result.atol:g} + {result.rtol:g} * max|a| ({o.max_abs_reference:.4g})"
                     + (f"; {o.note}" if o.note else ""))
    if result.divergence:
        lines.append(f"  first diverging tensor: '{result.divergence}'")
    lines.append(f"  provider: {result.provider}")
    return "\n".join(lines)


@dataclass(frozen=True)
class Ported:
    path: Path                  # the converted model
    report: object              # onnxport's ConvertReport (ok, summary(), to_dict())


@pytest.fixture
def onnxport_port(tmp_path):
    """convert(model, **ConvertOptions fields) -> Ported: converted into tmp_path and verified (a mismatch or
    an unreached target fails the test with onnxport's reason)."""
    from onnxport.converter import api
    from onnxport.errors import ResultError

    def port(model, name: str = "port.onnx", **options) -> Ported:
        out = tmp_path / name
        try:
            report = api.convert(model, out, api.ConvertOptions(**options))
        except ResultError as e:
            pytest.fail(f"onnxport could not port the model: {e}", pytrace=False)
        return Ported(out, report)
    return port
