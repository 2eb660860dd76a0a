"""Which runtime runs which form of which model, and how close it comes: the runtime matrix.

For each model, three forms: as exported, converted with the default target, and converted for the
runtime's profile (`convert --target NAME`). Each form runs on the runtime (in its own process) against
the original on onnxruntime, twice (at a second size, batch 2 among them, where the model takes one).
A cell's verdict is `agrees` (within atol + rtol*max|a|), `differs` (it ran and disagrees: never
acceptable for a converted form), `refused` (the runtime refused, crashed or hung, with its reason), or
`not convertible` (inspect --target NAME says what the runtime cannot take).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import onnx

from onnxport.converter import conversion, profiles
from onnxport.converter.verification import run_plan, verify
from onnxport.errors import OnnxportError

FORMS = ("original", "default", "profile")


@dataclass(frozen=True)
class Cell:
    model: str
    form: str
    runtime: str
    verdict: str            # agrees, differs, refused, not convertible
    detail: str = ""        # the worst error, or the reason
    error: float | None = None      # the worst max|a-b| where it ran

    def to_dict(self) -> dict:
        return asdict(self)


def form_of(model: onnx.ModelProto, form: str, runtime: str) -> tuple[onnx.ModelProto | None, str]:
    """(the model in this form, "") or (None, why it cannot be had)."""
    if form == "original":
        return model, ""
    targets = None if form == "default" else [runtime]
    if form == "profile" and runtime not in profiles.names():
        return None, f"no profile for {runtime}"
    fixed = None
    if form == "profile" and profiles.load(runtime).static_inputs and not _static(model):
        fixed = run_plan.plan(model, runs=1).first           # as a user would: --fix-sizes at a size it runs
    try:
        converted, report = conversion.convert_model(
            model, conversion.ConvertOptions(targets=targets, timing=False, fix_sizes=fixed))
    except OnnxportError as e:
        return None, f"convert refuses it: {e}"
    if report.remaining:
        left = report.remaining[0]
        return None, f"{len(report.remaining)} node(s) the runtime cannot take, e.g. '{left.node}' ({left.text()})"
    return converted, ""


def _static(model: onnx.ModelProto) -> bool:
    return all(d.HasField("dim_value") for i in model.graph.input for d in i.type.tensor_type.shape.dim)


def cell(name: str, model: onnx.ModelProto, form: str, runtime: str) -> Cell:
    converted, why = form_of(model, form, runtime)
    if converted is None:
        return Cell(name, form, runtime, "not convertible", why)
    result = verify.verify(model, converted, runs=2, provider="cpu", runtime=runtime)
    run = result.runs[0] if result.runs else None
    if run is not None and run.failure:
        return Cell(name, form, runtime, "refused", run.failure.removeprefix("the second model fails to run: ")[:300])
    worst = result.worst
    detail = f"max|a-b| {worst[1].max_abs_error:.2g} (bound {worst[1].bound:.2g})" if worst else ""
    return Cell(name, form, runtime, "agrees" if result.ok else "differs", detail,
                worst[1].max_abs_error if worst else None)


def table(cells: list[Cell], runtimes: list[str]) -> str:
    """A markdown table: a row per model, a column per runtime, each cell its forms' verdicts in FORMS order."""
    marks = {"agrees": "agrees", "refused": "refused", "not convertible": "n/c"}
    rows: dict[str, dict[str, dict[str, str]]] = {}
    for c in cells:
        mark = marks.get(c.verdict) or ("**differs** (shape)" if c.error == float("inf") else f"**differs** {c.error:.1e}")
        rows.setdefault(c.model, {}).setdefault(c.runtime, {})[c.form] = mark
    lines = ["| model | " + " | ".join(runtimes) + " |", "|---|" + "---|" * len(runtimes)]
    for model, found in rows.items():
        lines.append(f"| {model} | " + " | ".join(" / ".join(found.get(r, {}).get(f, "") for f in FORMS)
                                                 for r in runtimes) + " |")
    return "\n".join(lines)
