"""The library API that cli.py is a thin layer over: typed arguments in, result objects out, typed errors.

Nothing here prints. OnnxportError subclasses mean bad input (exit 2); ResultError subclasses mean the
work ran but its result is not acceptable (exit 1) and carry the report.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import onnx

from onnxport.converter.report_header import header
from onnxport.converter import (input_specs, inspection, pipeline, profiles, runtime, shape_inference, size_edits,
                                size_probe)
from onnxport.converter.files import graph_io, model_io, output_paths
from onnxport.converter.reports import html_report
from onnxport.converter.sizes import admissible_sizes as admissible
from onnxport.converter.verification import comparison, run_plan, saved_data, verify as verify_mod
from onnxport.converter.conversion import ConvertOptions, Plan, convert_model, first_sizes, resolve_options  # noqa: F401
from onnxport.errors import (BadArgument, BadInput, OnnxportError, ResultError, TargetNotReached, VerificationMismatch,
                             first_line)
from onnxport.converter.files.output_paths import MODEL, Outputs
from onnxport.converter.reports.report import ConvertReport
from onnxport.converter.verification.verify import VerifyResult


Source = str | os.PathLike | onnx.ModelProto      # a model file, example:NAME, or a model in memory


@dataclass(frozen=True, kw_only=True)
class VerifyOptions:
    shapes: dict = field(default_factory=dict)
    atol: float = 1e-4
    rtol: float = 1e-4
    provider: str = "auto"
    runs: int = 3
    seed: int = 0
    max_memory: int = run_plan.DEFAULT_BUDGET      # bytes of activations one verification run may take
    per_output: tuple = ()                         # (output name, atol, rtol): outputs with their own bound
    inputs: str | None = None                      # saved inputs to run at (.npz or Polygraphy JSON)
    expected: str | None = None                    # the outputs a framework computed for them
    runtime: str | None = None                     # run the second model there (openvino, opencv, tract, mnn)


def inspect(source: Source, options: ConvertOptions = ConvertOptions(), *, report: str | os.PathLike | None = None,
            force: bool = False) -> inspection.Inspection:
    """What the target cannot run in a model, each with its constraint's source, and whether convert
    (with the same options) would rewrite it away. Only `report` (JSON) is written, if given."""
    loaded = model_io.load(source)
    report_out = _claim_report([loaded], report, force)
    found = inspection.inspect(loaded.model, replace(options, timing=False), loaded.label, loaded.folder)
    _write_report(found.to_dict(), report_out, force)
    return found


@dataclass(frozen=True)
class ReportOutputs:
    """Where a command's report goes: JSON (the source of truth) and the HTML page rendered from it."""
    json: object = None
    html: object = None


def _claim_pages(outputs: Outputs, report, html) -> ReportOutputs:
    return ReportOutputs(outputs.claim(report, "the report") if report else None,
                         outputs.claim(html, "the HTML page") if html else None)


def _claim_report(loaded: list, report, force: bool, reads: tuple = (), html=None) -> ReportOutputs:
    """The report's outputs, checked now (never a file the models or `reads` are, never each other)."""
    protected = [p for m in loaded for p in m.protected_paths()] + [Path(r) for r in reads if r]
    return _claim_pages(Outputs(force=force, reads=protected), report, html)


def _write_report(data: dict, report_out: ReportOutputs, force: bool) -> None:
    with output_paths.publication(force) as pub:
        _stage_report(data, report_out, pub)


def _stage_report(data: dict, report_out: ReportOutputs, pub: output_paths.Publication) -> None:
    if report_out.json is not None:
        pub.text(json.dumps(data, indent=1), report_out.json)
    if report_out.html is not None:
        pub.text(html_report.render(data), report_out.html)


def convert(source: Source, output: str | os.PathLike, options: ConvertOptions = ConvertOptions(), *, verify: bool = True,
            verify_options: VerifyOptions = VerifyOptions(), force: bool = False,
            allow_partial: bool = False, report: str | None = None, verify_on: str | None = None,
            html: str | os.PathLike | None = None) -> ConvertReport:
    """Load, rewrite, verify, then write atomically. Every output (the model, its data, the report and its
    HTML page) is checked before any work; nothing but the report is written when a step fails."""
    loaded = model_io.load(source)
    outputs = Outputs(force=force, reads=loaded.protected_paths())
    out = outputs.claim(output, MODEL, data=loaded.uses_external_data)
    report_out = _claim_pages(outputs, report, html)
    if options.fix_sizes:           # the converted model runs at those sizes only
        input_specs.check_overrides(input_specs.input_specs(loaded.model), options.fix_sizes, "--fix-sizes")
        verify_options = replace(verify_options, shapes={**verify_options.shapes, **options.fix_sizes})

    if verify_on is not None and options.time_on is None:      # auto times where the result will be checked
        options = replace(options, time_on=verify_on)

    def work(pub):
        converted, result = convert_model(loaded.model, options, source=loaded.label, folder=loaded.folder,
                                          macs_at=first_sizes(loaded.model, verify_options.shapes, loaded.folder))
        if result.remaining and not allow_partial:
            result.verify_skipped = "the target is not reached"
            result.remedy = profiles.remedy(result.remaining, *_fix_sizes_hint(loaded, options))
            raise TargetNotReached(profiles.refusal(result.remaining, result.remedy), result)
        return _verified_write(loaded, converted, result, out, pub, verify, verify_options, result.alignment,
                               verify_on)
    return _reporting(work, report_out, force)


def _fix_sizes_hint(loaded, options: ConvertOptions) -> tuple[str | None, list]:
    """(`--fix-sizes NAME=DIMS ...`, what would still violate the target converted at those sizes: checked,
    not promised) for a model with free input sizes (none given), else (None, []). The sizes: its fixed dims
    as they are, the free ones at the first sizes verification would run it at (a size it runs at)."""
    specs = input_specs.input_specs(loaded.model)
    if options.fix_sizes or all(isinstance(d, int) and d > 0 for s in specs for d in s.dims):
        return None, []
    sizes = first_sizes(loaded.model, {}, loaded.folder)
    try:
        _, fixed = convert_model(loaded.model, replace(options, fix_sizes=sizes, timing=False), folder=loaded.folder)
    except OnnxportError:
        return None, []
    return " ".join(f"--fix-sizes {name}={'x'.join(map(str, dims))}" for name, dims in sizes.items()), fixed.remaining


def _reporting(work, report_out: ReportOutputs, force: bool):
    """Run `work(publication)`; its report (also the one a ResultError carries) goes to report_out, published
    with what work staged (the model) at the end, or not at all."""
    with output_paths.publication(force) as pub:
        try:
            result = work(pub)
        except ResultError as e:
            _stage_report(e.report.to_dict(), report_out, pub)
            pub.commit()
            raise
        _stage_report(result.to_dict(), report_out, pub)
    return result


def verify_models(a: onnx.ModelProto, b: onnx.ModelProto | None, options: VerifyOptions = VerifyOptions(),
                  alignment: comparison.Alignment = comparison.Alignment(), folders: tuple = (None, None),
                  against_provider: str | None = None) -> VerifyResult:
    """verify() on models in memory; folders: where each one's external data lives. b may be None when
    a is compared with saved outputs (options.expected)."""
    saved = saved_data.load_sets(options.inputs, "--inputs") if options.inputs else None
    expected = saved_data.load_sets(options.expected, "--expected") if options.expected else None
    return verify_mod.verify(a, b if b is not None else a, shapes=options.shapes, atol=options.atol, rtol=options.rtol,
                             provider=options.provider, runs=options.runs, seed=options.seed, alignment=alignment,
                             against_provider=against_provider, folders=folders, max_memory=options.max_memory,
                             per_output=options.per_output, saved_inputs=saved, expected=expected,
                             runtime=options.runtime)


Alignment = comparison.Alignment


def verify(a: Source, b: Source | None = None, options: VerifyOptions = VerifyOptions(), alignment: Alignment = Alignment(),
           against_provider: str | None = None, report: str | None = None, force: bool = False,
           html: str | os.PathLike | None = None) -> VerifyResult:
    """Compare two model files (or examples); the caller decides what a mismatch means. With
    against_provider, b (default: a itself) runs on that provider and a on options.provider. report:
    where the comparison goes as JSON (checked before any work; never one of the models' files)."""
    if b is None and against_provider is None and options.expected is None:
        raise BadArgument("verify needs a second model, --expected outputs, or --against-provider")
    first = model_io.load(a)
    second = model_io.load(b) if b is not None else first
    report_out = _claim_report([first, second], report, force, (options.inputs, options.expected), html)
    result = verify_models(first.model, second.model, options, alignment, (first.folder, second.folder),
                           against_provider)
    result.models = [first.label] + ([second.label] if b is not None else [])
    _write_report(result.to_dict(), report_out, force)
    return result


def node_shapes(source: Source, shapes_override: dict | None = None, *, report: str | os.PathLike | None = None,
                force: bool = False) -> list[shape_inference.NodeShapes]:
    """Output shape of every node of a model, with the sizes each ConvTranspose's stride allows."""
    loaded = model_io.load(source)
    report_out = _claim_report([loaded], report, force)
    input_specs.check_overrides(input_specs.input_specs(loaded.model), shapes_override or {})
    rows = shape_inference.node_shapes(graph_io.to_graph(loaded.model, loaded.folder), shapes_override)
    _write_report(shapes_listing(rows), report_out, force)
    return rows


def shapes_listing(rows: list[shape_inference.NodeShapes]) -> dict:
    return {**header(), "nodes": [asdict(r) for r in rows]}


def admissible_sizes(source: Source, *, report: str | os.PathLike | None = None, force: bool = False,
                     html: str | os.PathLike | None = None, check_up_to: int = size_probe.UP_TO,
                     budget_s: float = size_probe.BUDGET_S) -> list[admissible.AxisSizes]:
    """Per input axis: the sizes at which the net runs and its joins match, and those at which it also
    loses nothing, with the node that decides each (converter.admissible_sizes), each checked on
    onnxruntime at lengths 1..check_up_to (converter.size_probe; 0: the analysis alone)."""
    if check_up_to < 0:
        raise BadArgument(f"--check-up-to {check_up_to}: must be 0 (no runs) or more")
    loaded = model_io.load(source)
    report_out = _claim_report([loaded], report, force, html=html)
    graph = graph_io.to_graph(loaded.model, loaded.folder)
    shape_inference.annotate(graph)
    rows = size_probe.check(loaded.model, admissible.admissible_sizes(graph), loaded.folder, check_up_to, budget_s)
    _write_report(sizes_listing(rows, loaded.label), report_out, force)
    return rows


MAX_REPORT_BYTES = 256 << 20      # a report of the largest real net is a few MiB


def render_report(report: str | os.PathLike, html: str | os.PathLike, *, force: bool = False) -> None:
    """The HTML page of a JSON report written earlier (by convert, verify or sizes)."""
    report = Path(report)
    page = Outputs(force=force, reads=[report]).claim(html, "the HTML page")
    try:
        if report.stat().st_size > MAX_REPORT_BYTES:
            raise BadInput(f"{report}: larger than any report onnxport writes ({MAX_REPORT_BYTES >> 20} MiB)")
        data = json.loads(report.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{report}: no such file") from None
    except RecursionError:
        raise BadInput(f"{report}: not a JSON report (nested too deeply)") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise BadInput(f"{report}: not a JSON report ({first_line(e, 120)})") from None
    try:
        text = html_report.render(data)
    except html_report.NotAReport as e:
        raise BadInput(f"{report}: {e}") from None
    except (KeyError, TypeError, AttributeError, ValueError, IndexError, ArithmeticError, RecursionError) as e:
        # a report with a field missing, mistyped or out of range (a period of 0, a negative count)
        raise BadInput(f"{report}: not an onnxport convert, verify or sizes report ({type(e).__name__}: "
                       f"{first_line(e, 120)})") from None
    output_paths.write_text(text, page, force=force)


def sizes_listing(rows: list[admissible.AxisSizes], source: str = "") -> dict:
    return {**header(), "source": source, "axes": [r.to_dict() for r in rows]}


@dataclass(frozen=True)
class PassInfo:
    name: str
    summary: str
    doc: str


def versions_text() -> str:
    """onnxport, onnx and onnxruntime versions, and the execution provider verification uses here."""
    return runtime.versions_text()


def list_passes() -> list[PassInfo]:
    from onnxport.passes import all_passes
    return [PassInfo(p.name, p.summary, p.doc) for p in all_passes()]


def list_targets() -> dict[str, str]:
    return {name: t.summary for name, t in pipeline.TARGETS.items()}


def list_examples() -> dict[str, str]:
    from onnxport.models import examples
    return {name: examples.describe(name) for name in sorted(examples.EXAMPLES)}


def strip_sizes(source: Source, output: str | os.PathLike, *, inputs_: list[str] | None = None, axes: list[int] | None = None,
                verify: bool = True, verify_options: VerifyOptions = VerifyOptions(),
                force: bool = False, report: str | None = None) -> size_edits.SizesReport:
    """Free input sizes, verify, write atomically (the JSON report to `report`)."""
    loaded = model_io.load(source)
    outputs = Outputs(force=force, reads=loaded.protected_paths())
    out = outputs.claim(output, MODEL, data=loaded.uses_external_data)
    report_out = _claim_pages(outputs, report, None)

    def work(pub):
        keep: dict = {}
        scales = True
        while True:                 # a freed dim whose own check fails stays fixed, named, and the rest is tried again
            freed, result = size_edits.strip(loaded.model, inputs_, axes, loaded.folder, keep, scales)
            if not verify or axes is not None:
                break
            result.verification = verify_models(loaded.model, freed, verify_options, folders=(loaded.folder,) * 2)
            failed = _failed_freed_dim(result.verification, result.freed)
            if failed is None:
                break
            if scales and failed[0][1] != 0 and any(p.name == "resize-sizes-to-scales" and p.applied
                                                    for p in result.passes):
                scales = False      # first keep the Resize sizes as the graph has them (a fixed-size resample)
                continue
            keep[failed[0]] = failed[1]
        return _verified_write(loaded, freed, result, out, pub, verify and result.verification is None,
                               verify_options, checked=result.verification)
    return _reporting(work, report_out, force)


def _failed_freed_dim(result: VerifyResult, freed: dict) -> tuple[tuple[str, int], str] | None:
    """((input, axis), why) for the first freed dim whose own check failed (batch 2, or a next size),
    when every run at the exported sizes passed; None otherwise."""
    for run in result.runs:
        if run.ok:
            continue
        dims = [(name, axis) for name, axis in run.checks if axis in freed.get(name, {})]
        if not dims:
            return None                 # a run at the exported sizes failed: nothing to keep fixed helps
        why = run.failure or next((f"{o.name}: {o.note or 'differs'}" for o in run.outputs if not o.ok), "differs")
        what = "its batch-2 check" if dims[0][1] == 0 else f"{run.why.split(',')[0]}"
        return dims[0], f"the freed model fails {what} ({_first_line_of(why)})"
    return None


def _first_line_of(text: str, limit: int = 160) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[:limit - 3] + "..."


def fix_sizes(source: Source, output: str | os.PathLike, shapes_: dict, *, verify: bool = True,
              verify_options: VerifyOptions = VerifyOptions(), force: bool = False,
              report: str | None = None) -> size_edits.SizesReport:
    """Fix input sizes and fold the shape arithmetic, verify at those sizes, write atomically."""
    loaded = model_io.load(source)
    outputs = Outputs(force=force, reads=loaded.protected_paths())
    out = outputs.claim(output, MODEL, data=loaded.uses_external_data)
    report_out = _claim_pages(outputs, report, None)

    def work(pub):
        fixed, result = size_edits.fix(loaded.model, shapes_, loaded.folder)
        return _verified_write(loaded, fixed, result, out, pub, verify, replace(verify_options, shapes=shapes_))
    return _reporting(work, report_out, force)


def _verified_write(loaded, model, report, out, pub, verify, options, alignment=comparison.Alignment(),
                    verify_on: str | None = None, checked: VerifyResult | None = None):
    """Verify `model` against what was loaded (on onnxruntime, then on the runtime `verify_on` too), then
    stage it in the publication `pub`; nothing is staged on a mismatch. checked: a verification already
    run on it."""
    if verify or checked is not None:
        report.verification = checked or verify_models(loaded.model, model, options, alignment,
                                                       (loaded.folder, loaded.folder))
        if not report.verification.ok:
            raise VerificationMismatch(f"the result is not equivalent: {report.verification.summary()}; "
                                       f"nothing written", report)
    if verify_on is not None:
        report.runtime_verification = verify_models(loaded.model, model, replace(options, runtime=verify_on),
                                                    alignment, (loaded.folder, loaded.folder))
        if not report.runtime_verification.ok:
            raise VerificationMismatch(f"on {verify_on}, the result is not equivalent: "
                                       f"{report.runtime_verification.summary()}; nothing written", report)
    model_io.save(model, out, force=pub.force, protected=loaded.protected_paths(), folder=loaded.folder,
                  external=loaded.uses_external_data, publication=pub)
    report.output = out.requested + (f" ({out.note})" if out.note else "")
    return report
