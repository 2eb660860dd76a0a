"""The library API that cli.py is a thin layer over: typed arguments in, result objects out, typed errors.

Nothing here prints. OnnxportError subclasses mean bad input (exit 2); ResultError subclasses mean the
work ran but its result is not acceptable (exit 1) and carry the report.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import onnx

from converter import (graph_io, input_sizes, inputs, macs, model_io, pipeline, recipes, shapes, sizes as sizes_mod,
                       verify as verify_mod)
from converter.errors import TargetNotReached, VerificationMismatch
from converter.report import ConvertReport
from converter.verify import VerifyResult
from passes import strided_to_dense
from passes._registry import Options


@dataclass(frozen=True)
class VerifyOptions:
    shapes: dict = field(default_factory=dict)
    atol: float = 1e-4
    rtol: float = 1e-4
    provider: str = "auto"
    runs: int = 3
    seed: int = 0


def convert_model(model: onnx.ModelProto, *, targets: list[str] | None = None,
                  strategy: str = pipeline.DEFAULT_STRATEGY, max_rank: int | None = None, fuse: bool = False,
                  dense: bool = False, pad_to_valid: str | None = None, source: str = "<model>",
                  macs_at: dict | None = None) -> tuple[onnx.ModelProto, ConvertReport]:
    """Rewrite a model in memory (the input is not modified); no verification, no file I/O.

    Without fuse, targets default to no-convtranspose3d (none when only dense/pad_to_valid is asked).
    With fuse, chains are first folded back into single ops (recorded lowerings and known exporter
    patterns); then the targets; then dense (stride 1 everywhere); then pad_to_valid (a pad mode:
    inputs padded to the next admissible size, size-preserving outputs cropped back).
    """
    if targets is None:
        targets = [] if fuse or dense or pad_to_valid else [pipeline.DEFAULT_TARGET]
    stored = recipes.load(model)
    steps = (pipeline.plan_fuse(tuple(stored)) if fuse else []) + \
        (pipeline.plan(targets, strategy, max_rank) if targets else [])
    graph = graph_io.to_graph(model)
    shapes.annotate(graph)
    report = ConvertReport(source, targets, strategy, len(graph.nodes), ops_before=Counter(n.op for n in graph.nodes),
                           fuse=fuse)
    report.macs_at = macs_at or first_sizes(model, {})
    report.macs_before = macs.count(graph, report.macs_at)
    report.passes = pipeline.run(graph, steps)
    report.alignment = verify_mod.Alignment(unit_dims="fully-convolutional" in targets)
    report.extras = (["dense"] if dense else []) + ([f"pad-to-valid ({pad_to_valid})"] if pad_to_valid else [])
    if dense:
        report.alignment = verify_mod.Alignment(report.alignment.unit_dims, strided_to_dense.output_strides(graph))
        report.passes += pipeline.run(graph, [pipeline.Step("strided-to-dense", Options())])
    if pad_to_valid:
        plans = input_sizes.valid_sizes(graph)
        report.passes += pipeline.run(graph, [pipeline.Step("pad-inputs-to-valid",
                                                            Options(valid_sizes=plans, pad_mode=pad_to_valid))],
                                      rounds=1)
    report.remaining = pipeline.violations(graph, targets)
    report.nodes_after = len(graph.nodes)
    report.ops_after = Counter(n.op for n in graph.nodes)
    report.macs_after = macs.count(graph, report.macs_at)
    converted = graph_io.to_model(graph, like=model)
    recipes.store(converted, recipes.update(stored, report.passes))
    return converted, report


def first_sizes(model: onnx.ModelProto, overrides: dict) -> dict:
    """The input sizes a first verification run tries: where MACs are counted."""
    specs = inputs.input_specs(model)
    inputs.check_overrides(specs, overrides)
    return next(inputs.size_candidates(specs, overrides))[0]


def convert(source: str, output: str, *, targets: list[str] | None = None,
            strategy: str = pipeline.DEFAULT_STRATEGY, max_rank: int | None = None, fuse: bool = False,
            dense: bool = False, pad_to_valid: str | None = None, verify: bool = True,
            verify_options: VerifyOptions = VerifyOptions(), force: bool = False,
            allow_partial: bool = False) -> ConvertReport:
    """Load, rewrite, verify, then write atomically. Nothing is written when a step fails."""
    loaded = model_io.load(source)
    model_io.check_output_path(output, force=force, protected=loaded.protected_paths())
    converted, report = convert_model(loaded.model, targets=targets, strategy=strategy, max_rank=max_rank,
                                      fuse=fuse, dense=dense, pad_to_valid=pad_to_valid, source=source,
                                      macs_at=first_sizes(loaded.model, verify_options.shapes))
    if report.remaining and not allow_partial:
        nodes = ", ".join(f"'{n}'" for n, _ in report.remaining[:3])
        raise TargetNotReached(f"{len(report.remaining)} node(s) still violate the target ({nodes}"
                               f"{', ...' if len(report.remaining) > 3 else ''}); nothing written "
                               f"(--allow-partial writes it anyway)", report)
    if verify:
        report.verification = verify_models(loaded.model, converted, verify_options, report.alignment)
        if not report.verification.ok:
            raise VerificationMismatch(f"the converted model is not equivalent: {report.verification.summary()}; "
                                       f"nothing written", report)
    model_io.save(converted, output, force=force, protected=loaded.protected_paths(),
                  external=loaded.uses_external_data)
    report.output = output
    return report


def verify_models(a: onnx.ModelProto, b: onnx.ModelProto, options: VerifyOptions = VerifyOptions(),
                  alignment: verify_mod.Alignment = verify_mod.Alignment()) -> VerifyResult:
    return verify_mod.verify(a, b, shapes=options.shapes, atol=options.atol, rtol=options.rtol,
                             provider=options.provider, runs=options.runs, seed=options.seed, alignment=alignment)


Alignment = verify_mod.Alignment


def verify(a: str, b: str, options: VerifyOptions = VerifyOptions(), alignment: Alignment = Alignment()) -> VerifyResult:
    """Compare two model files (or examples); the caller decides what a mismatch means."""
    return verify_models(model_io.load(a).model, model_io.load(b).model, options, alignment)


def node_shapes(source: str, shapes_override: dict | None = None) -> list[shapes.NodeShapes]:
    """Output shape of every node of a model, with the sizes each ConvTranspose's stride allows."""
    model = model_io.load(source).model
    inputs.check_overrides(inputs.input_specs(model), shapes_override or {})
    return shapes.node_shapes(graph_io.to_graph(model), shapes_override)


def admissible_sizes(source: str) -> list[sizes_mod.AxisSizes]:
    """For every spatial axis of every input: the sizes m + k*n at which nothing is lost or misaligned."""
    graph = graph_io.to_graph(model_io.load(source).model)
    shapes.annotate(graph)
    return sizes_mod.admissible_sizes(graph)


@dataclass(frozen=True)
class PassInfo:
    name: str
    summary: str
    doc: str


def list_passes() -> list[PassInfo]:
    from passes import _registry
    return [PassInfo(p.name, p.summary, p.doc) for p in _registry.all_passes()]


def list_targets() -> dict[str, str]:
    return {name: t.summary for name, t in pipeline.TARGETS.items()}


def list_examples() -> dict[str, str]:
    from models import examples
    return {name: examples.describe(name) for name in sorted(examples.EXAMPLES)}


def strip_sizes(source: str, output: str, *, inputs_: list[str] | None = None, axes: list[int] | None = None,
                verify: bool = True, verify_options: VerifyOptions = VerifyOptions(),
                force: bool = False) -> input_sizes.SizesReport:
    """Free input sizes, verify at the exported sizes, write atomically."""
    loaded = model_io.load(source)
    model_io.check_output_path(output, force=force, protected=loaded.protected_paths())
    freed, report = input_sizes.strip(loaded.model, inputs_, axes)
    return _verified_write(loaded, freed, report, output, verify, verify_options, force)


def fix_sizes(source: str, output: str, shapes_: dict, *, verify: bool = True,
              verify_options: VerifyOptions = VerifyOptions(), force: bool = False) -> input_sizes.SizesReport:
    """Fix input sizes and fold the shape arithmetic, verify at those sizes, write atomically."""
    loaded = model_io.load(source)
    model_io.check_output_path(output, force=force, protected=loaded.protected_paths())
    fixed, report = input_sizes.fix(loaded.model, shapes_)
    return _verified_write(loaded, fixed, report, output, verify, VerifyOptions(
        shapes_, verify_options.atol, verify_options.rtol, verify_options.provider, verify_options.runs), force)


def _verified_write(loaded, model, report, output, verify, options, force):
    if verify:
        report.verification = verify_models(loaded.model, model, options)
        if not report.verification.ok:
            raise VerificationMismatch(f"the result is not equivalent: {report.verification.summary()}; "
                                       f"nothing written", report)
    model_io.save(model, output, force=force, protected=loaded.protected_paths(),
                  external=loaded.uses_external_data)
    report.output = output
    return report
