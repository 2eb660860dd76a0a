"""The conversion engine: options resolved against a runtime profile, and a model rewritten in memory.

Below the API (converter.api loads, converts, verifies and saves) and above the passes: auto_strategy and
inspection use it directly, and it imports neither them nor the API (auto_strategy gets convert_model
passed in), so the package has no import circle.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import onnx
import onnx_graphsurgeon as gs

from onnxport.converter import (auto_strategy, input_specs, macs, pipeline, profiles, runtimes, shape_inference,
                                size_edits)
from onnxport.converter.files import graph_io, recipe_store
from onnxport.converter.reports import rewrites
from onnxport.converter.verification import comparison, run_plan
from onnxport.converter.reports.report import ConvertReport
from onnxport.errors import BadArgument
from onnxport.passes import Options, strided_to_dense


@dataclass(frozen=True, kw_only=True)
class ConvertOptions:
    """What convert does (keywords only: nine settings in a row are unreadable and break when one is added).
    targets may name runtime profiles (coreml, ./myruntime.toml) besides generic targets; strategy None
    means the profile's (else subpixel); "auto" times the allowed forms per node, on the runtime the
    profile (or else time_on) names, else on onnxruntime's provider; fix_sizes (input name -> dims) fixes
    input sizes first, for runtimes that want static graphs."""

    targets: list[str] | None = None
    strategy: str | None = None
    max_rank: int | None = None
    fuse: bool = False
    dense: bool = False
    pad_to_valid: str | None = None
    timing: bool = True
    provider: str = "auto"
    fix_sizes: dict | None = None
    time_on: str | None = None      # the runtime auto times on where the profile names none (convert's verify_on)


@dataclass(frozen=True)
class Plan:
    """ConvertOptions resolved against a runtime profile."""

    targets: list[str]            # the generic targets whose passes run (a profile's own among them)
    checked: list[str]            # the generic targets a result is judged by (besides the profile)
    profile: profiles.Profile | None
    strategy: str
    max_rank: int | None
    strict_max_rank: bool     # the budget is the user's --max-rank (an unreachable node is an error)

def convert_model(model: onnx.ModelProto, options: ConvertOptions | None = None, *, source: str = "<model>",
                  macs_at: dict | None = None, folder: Path | None = None,
                  **kwargs) -> tuple[onnx.ModelProto, ConvertReport]:
    """Rewrite a model in memory (the input is not modified); no verification, no file I/O.

    Order: fix_sizes, fuse (chains folded back into single ops), the targets (with a runtime profile: its
    own targets, strategy and rank budget first, then every ConvTransposes it forbids lowered, then shape
    arithmetic folded if it asks or the sizes are fixed), dense (stride 1 everywhere), pad_to_valid (a pad mode: inputs padded to
    the next admissible size, size-preserving outputs cropped back). Without fuse, dense or pad_to_valid,
    targets default to no-convtranspose3d. folder: where the model's external data lives (the result's
    untouched weights keep referring to it). kwargs: ConvertOptions fields.
    """
    if options is not None and kwargs:
        raise TypeError("convert_model takes options or keyword arguments, not both")
    options = options or ConvertOptions(**kwargs)
    plan = resolve_options(options)
    extras = []
    graph = graph_io.to_graph(model, folder)        # the one proto -> graph of this conversion
    if options.fix_sizes:
        input_specs.check_overrides(input_specs.input_specs(model), options.fix_sizes, "--fix-sizes")
        size_edits.fix_graph(graph, options.fix_sizes)
        extras.append(f"fixed sizes {input_specs.sizes_text(options.fix_sizes)}")
    typed = shape_inference.annotate(graph) is None          # then every pass must leave it typed (pipeline.run)
    report = ConvertReport(source, list(options.targets or plan.targets), plan.strategy, len(graph.nodes),
                           ops_before=Counter(n.op for n in graph.nodes), fuse=options.fuse)
    report.macs_at = macs_at or first_sizes(model, options.fix_sizes or {}, folder)
    infos = shape_inference.infer(graph, report.macs_at)
    macs_per_node = macs.per_node(graph, report.macs_at, infos)
    report.macs_before = None if macs_per_node is None else sum(macs_per_node.values())
    before = rewrites.snapshot(graph, infos)
    stored = recipe_store.load(model)
    steps, report.choices = _target_steps(graph, plan, options, report.macs_at)
    report.passes = pipeline.run(graph, (pipeline.plan_fuse(tuple(stored)) if options.fuse else []) + steps,
                                 typed=typed)
    report.alignment = comparison.Alignment(unit_dims="fully-convolutional" in plan.targets)
    report.extras = extras + (["dense"] if options.dense else []) + \
        ([f"pad-to-valid ({options.pad_to_valid})"] if options.pad_to_valid else [])
    if options.dense:
        report.alignment = comparison.Alignment(report.alignment.unit_dims, strided_to_dense.output_strides(graph),
                                                lossless=True)
        report.passes += pipeline.run(graph, [pipeline.Step("strided-to-dense", Options())], typed=typed)
    if options.pad_to_valid:
        plans = size_edits.valid_sizes(graph)
        step = pipeline.Step("pad-inputs-to-valid", Options(valid_sizes=plans, pad_mode=options.pad_to_valid))
        report.passes += pipeline.run(graph, [step], rounds=1, typed=typed)
        report.alignment = replace(report.alignment, lossless=True)
    report.passes = pipeline.merge(report.passes + pipeline.run(graph, pipeline.explicit_form(), rounds=1, typed=typed))
    report.remaining = pipeline.violations(graph, plan.checked)
    if plan.profile is not None:
        report.profile = plan.profile.name
        report.remaining += plan.profile.violations(graph)
    report.nodes_after = len(graph.nodes)
    report.ops_after = Counter(n.op for n in graph.nodes)
    infos = shape_inference.infer(graph, report.macs_at)
    report.macs_after = macs.count(graph, report.macs_at, infos)
    report.rewrites = rewrites.describe(before, graph, infos, report.passes, pipeline.EXPLICIT_FORM, macs_per_node)
    converted = graph_io.to_model(graph, like=model)
    recipe_store.store(converted, recipe_store.update(stored, report.passes))
    return converted, report


def _target_steps(graph, plan: Plan, options: ConvertOptions, macs_at: dict | None) -> tuple[list[pipeline.Step], list]:
    """The steps that reach the targets and the profile, and --strategy auto's choice per node (made here)."""
    if not plan.targets and plan.profile is None:
        return [], []
    forbids = plan.profile.forbids if plan.profile is not None else None
    assignments, choices = None, []
    if plan.strategy == "auto":
        choices = auto_strategy.choose(graph, plan.targets, plan.max_rank, plan.profile, macs_at,
                                       timing_site(plan, options) if options.timing else None, lower_candidate)
        assignments = {}
        for c in choices:
            assignments.setdefault(c.strategy, set()).add(c.node)
        assignments = {k: frozenset(v) for k, v in assignments.items()}
    steps = pipeline.plan(plan.targets, plan.strategy, plan.max_rank, assignments, forbids, plan.strict_max_rank)
    if plan.profile is not None and (plan.profile.fold_shapes or options.fix_sizes):
        steps.append(pipeline.Step("fold-shape-computations", Options()))
    return steps, choices


def lower_candidate(graph: gs.Graph, targets: list[str], strategy: str | None = None,
                    max_rank: int | None = None) -> list:
    """One candidate form for --strategy auto, made on `graph` itself (a node cut out, changed in place):
    the targets' and the profile's rewrites and the explicit form, as convert_model makes them, with no
    proto, sizes or report in between; what still violates the targets or the profile is returned."""
    options = ConvertOptions(targets=targets, strategy=strategy, max_rank=max_rank)
    plan = resolve_options(options)
    typed = shape_inference.annotate(graph) is None
    steps, _ = _target_steps(graph, plan, options, None)
    pipeline.run(graph, steps, typed=typed)
    pipeline.run(graph, pipeline.explicit_form(), rounds=1, typed=typed)
    return pipeline.violations(graph, plan.checked) + (plan.profile.violations(graph) if plan.profile else [])


def timing_site(plan: Plan, options: ConvertOptions) -> auto_strategy.Site:
    """Where --strategy auto times: on the runtime the profile is for (where onnxport runs it and it is
    installed), else on options.time_on, else on onnxruntime's provider, saying why not the profile's."""
    named = plan.profile.name if plan.profile is not None and plan.profile.name in runtimes.RUNTIMES else None
    if named is None:
        return auto_strategy.Site(options.provider, runtimes.info(options.time_on).name if options.time_on else None)
    try:
        return auto_strategy.Site(options.provider, runtimes.info(named).name)
    except BadArgument as e:            # not installed here: timed where it can be, and said
        return auto_strategy.Site(options.provider, note=f"not on {named}: {e}")


def resolve_options(options: ConvertOptions) -> Plan:
    """The generic targets, profile, strategy and rank budget that options amount to."""
    if options.targets is None:
        wanted = [] if options.fuse or options.dense or options.pad_to_valid else [pipeline.DEFAULT_TARGET]
    else:
        wanted = list(options.targets)
    named = [t for t in wanted if profiles.is_profile(t)]
    if len(named) > 1:
        raise BadArgument(f"one runtime profile at a time ({', '.join(named)} given)")
    profile = profiles.load(named[0]) if named else None
    targets = checked = [t for t in wanted if t not in named]
    pipeline.check_targets(targets)
    max_rank, strict = options.max_rank, True
    if profile is not None:
        targets = list(dict.fromkeys(profile.targets + targets))
        if profile.max_rank is not None and (max_rank is None or profile.max_rank < max_rank):
            max_rank, strict = profile.max_rank, False
    strategy = options.strategy or (profile.strategy if profile is not None else pipeline.DEFAULT_STRATEGY)
    return Plan(targets, checked, profile, pipeline.strategy_named(strategy), max_rank, strict)


def first_sizes(model: onnx.ModelProto, overrides: dict, folder: Path | None = None) -> dict:
    """The input sizes a first verification run tries: where MACs are counted."""
    input_specs.check_overrides(input_specs.input_specs(model), overrides)
    return run_plan.plan(model, overrides=overrides, runs=1, folders=(folder, None)).first
