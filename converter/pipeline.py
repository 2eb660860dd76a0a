"""Targets and strategies -> an ordered list of passes, run to a fixed point, then the targets re-checked.

A target names what must not remain (no-convtranspose3d: no ConvTranspose with 3 spatial dims) and how
to find it; a strategy picks which exact rewrite removes ConvTransposes. `fuse` plans the other
direction: chains folded back into single ops. After every pass the graph is cleaned up and toposorted
(by the driver) and shape-inferred (here), so later passes see ranks and sizes. Whatever still violates
a target afterwards is listed with the reason the pass gave for skipping it.
"""
from __future__ import annotations

import functools
import operator
import re
from dataclasses import dataclass, replace
from typing import Callable

import onnx_graphsurgeon as gs

from onnxport.converter import progress, shape_inference
from onnxport.converter.profiles import Violation
from onnxport.errors import BadArgument, PassError
from onnxport.passes import Options, PassReport, all_graphs, apply_pass, conditions, get_pass

MAX_ROUNDS = 4


@dataclass(frozen=True)
class Ranks:
    """The spatial ranks of the ConvTransposes a target removes: every rank, or those listed (none: empty)."""

    listed: frozenset[int] = frozenset()
    every: bool = False

    def __contains__(self, rank: int) -> bool:
        return self.every or rank in self.listed

    def __bool__(self) -> bool:
        return self.every or bool(self.listed)

    def __or__(self, other: Ranks) -> Ranks:
        return Ranks(self.listed | other.listed, self.every or other.every)

    def within(self, rewritten: frozenset[int] | None) -> bool:
        """Whether a strategy that rewrites `rewritten` (passes' spatial_ranks; None: every rank) covers them."""
        return rewritten is None or (not self.every and self.listed <= rewritten)

    def as_option(self) -> frozenset[int] | None:
        """As passes' Options.spatial_ranks takes it (None: every rank)."""
        return None if self.every else self.listed


NO_RANK, EVERY_RANK = Ranks(), Ranks(every=True)


@dataclass(frozen=True)
class Target:
    name: str
    summary: str
    violation: Callable[[gs.Node], str | None]
    convtranspose_ranks: Ranks = NO_RANK             # the ConvTransposes the strategy removes for it
    passes: tuple[str, ...] = ()                                 # passes that serve it whatever the strategy


TARGETS = {t.name: t for t in (
    Target("no-convtranspose3d", "no ConvTranspose with 3 spatial dims", conditions.convtranspose_of_rank(frozenset({3})),
           convtranspose_ranks=Ranks(frozenset({3}))),
    Target("no-convtranspose", "no ConvTranspose at all (1-D, 2-D and 3-D)", conditions.convtranspose_of_rank(None),
           convtranspose_ranks=EVERY_RANK),
    Target("normalize-padding", "ConvTranspose pads explicit: no auto_pad SAME_*/VALID, no output_shape",
           conditions.implicit_padding, passes=("normalize-convtranspose-padding",)),
    Target("no-conv3d", "no Conv with 3 spatial dims (2-D Convs over (H, W) and over depth instead)",
           conditions.of_spatial_rank(("Conv",), 3), passes=("conv-same-to-pads", "conv3d-to-conv2d")),
    Target("no-pool3d", "no pool (windowed or global) with 3 spatial dims (2-D pools instead)",
           conditions.any_of(conditions.of_spatial_rank(("MaxPool", "AveragePool", "LpPool"), 3),
                             conditions.global_pool_of_rank(3)),
           passes=("conv-same-to-pads", "pool3d-to-pool2d", "global-pool3d-to-pool2d")),
    Target("no-pad", "no Pad (a Pad of a fixed-shape tensor becomes Slices and Concats)",
           conditions.op_is("Pad"), passes=("pad-to-concat",)),
    Target("no-flatten", "no Flatten (a Reshape to the same two dims instead)",
           conditions.op_is("Flatten"), passes=("flatten-to-reshape",)),
    Target("nearest-asymmetric-floor", "every nearest Resize in asymmetric + floor form (where it repeats samples)",
           conditions.nearest_not_floor, passes=("nearest-repeat-to-asymmetric-floor",)),
    Target("no-aspect-ratio-policy", "no Resize with keep_aspect_ratio_policy (a plain scales Resize instead)",
           conditions.aspect_ratio_policy, passes=("resize-aspect-ratio-to-scales",)),
    Target("no-half-pixel-symmetric", "no Resize in half_pixel_symmetric form (half_pixel where they agree)",
           conditions.symmetric_coordinates, passes=("resize-symmetric-to-half-pixel",)),
    Target("gelu-scale-last", "GELU as (x * (1 + erf(x/sqrt2))) * 0.5, the order OpenCV imports",
           conditions.gelu_scale_first, passes=("gelu-scale-last",)),
    Target("no-reshape-allowzero", "no Reshape with allowzero=1 (dropped where the target has no 0)",
           conditions.reshape_allowzero, passes=("reshape-allowzero-off",)),
    Target("fully-convolutional", "no Flatten/Gemm head: the classifier becomes Convs and slides over larger inputs",
           conditions.dense_head, passes=("gemm-head-to-conv",)),
    Target("no-resize5d", "no Resize of a tensor with rank >= 5 (4-D Resizes of one or two spatial axes instead)",
           conditions.resize_over_three_axes, passes=("resize5d-to-resize4d",)),
    Target("no-batchnorm", "no BatchNormalization: each folded into the Conv/ConvTranspose before it",
           conditions.op_is("BatchNormalization"), passes=("fold-batchnorm",)),
)}
DEFAULT_TARGET = "no-convtranspose3d"


@dataclass(frozen=True)
class Strategy:
    pass_name: str
    spatial_ranks: frozenset[int] | None      # the ConvTranspose ranks it can rewrite


STRATEGIES = {
    "subpixel": Strategy("convtranspose-to-subpixel", None),
    "resize-conv": Strategy("convtranspose-to-resize-conv", None),
    "convtranspose2d": Strategy("convtranspose3d-to-convtranspose2d", frozenset({3})),
}
# Earlier names users' scripts may pass (the command line keeps accepting them): name -> strategy.
STRATEGY_ALIASES = {"conv2d": "convtranspose2d"}
DEFAULT_STRATEGY = "subpixel"


def strategy_named(name: str | None) -> str | None:
    """The strategy a name means: its alias resolved, anything else unchanged (plan() judges it)."""
    return STRATEGY_ALIASES.get(name, name)
# Last, whatever the targets: every implicit form written out (exact rewrites that hold at every size the
# model runs at), because runtimes read the implicit ones differently (issue 13: OpenVINO and OpenCV
# size a SAME_UPPER ConvTranspose wrongly, MNN reads a Resize without its mode as bilinear).
EXPLICIT_FORM = ("normalize-convtranspose-padding", "conv-same-to-pads", "explicit-attributes")
FUSE_PASSES = ("fuse-lowered", "resize4d-chain-to-resize5d", "fold-convtranspose-crop", "fold-convtranspose-bias",
               "upsample-conv-to-convtranspose", "conv-upsample-to-convtranspose")


@dataclass(frozen=True)
class Step:
    pass_name: str
    options: Options


def explicit_form() -> list[Step]:
    return [Step(name, Options()) for name in EXPLICIT_FORM]


def lowering_ranks(targets: list[str]) -> Ranks:
    """The ConvTranspose spatial ranks the targets remove, together."""
    return functools.reduce(operator.or_, (TARGETS[t].convtranspose_ranks for t in targets), NO_RANK)


def plan(targets: list[str], strategy: str, max_rank: int | None = None,
         assignments: dict[str, frozenset[str]] | None = None, also_lower: Callable[[gs.Node], bool] | None = None,
         strict_max_rank: bool = True) -> list[Step]:
    """The passes that reach `targets` with `strategy`; bad names and misfits are BadArgument.

    strategy "auto" takes `assignments`: strategy -> the ConvTranspose nodes it lowers. `also_lower`
    picks further ConvTransposes to lower whatever their rank (those a runtime profile forbids), judged
    when the strategy runs, after padding normalisation. strict_max_rank False: a node the rank budget
    cannot reach stays (and is listed) instead of being an error.
    """
    check_targets(targets)
    if strategy not in STRATEGIES and strategy != "auto":
        raise BadArgument(f"unknown strategy '{strategy}' (strategies: {', '.join(STRATEGIES)}, auto)")
    if max_rank is not None and max_rank < 1:
        raise BadArgument(f"--max-rank {max_rank}: must be a positive rank")
    options = Options(max_rank=max_rank, strict_max_rank=strict_max_rank)
    passes = [name for t in targets for name in TARGETS[t].passes]
    steps = [Step(name, options) for name in passes if name == "normalize-convtranspose-padding"]
    ranks = lowering_ranks(targets)
    for name, nodes in (assignments if assignments is not None else {strategy: None}).items():
        chosen = STRATEGIES[name]
        if nodes is not None:
            steps.append(Step(chosen.pass_name, replace(options, nodes=nodes)))
            continue
        if ranks:
            _check_fit(name, chosen, targets, ranks)
            steps.append(Step(chosen.pass_name, replace(options, spatial_ranks=ranks.as_option())))
        if also_lower is not None:
            steps.append(Step(chosen.pass_name, replace(options, spatial_ranks=chosen.spatial_ranks, only=also_lower)))
    steps += [Step(name, options) for name in passes if name != "normalize-convtranspose-padding"]
    return _dedupe(steps)


def check_targets(targets: list[str]) -> None:
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        raise BadArgument(f"unknown target '{unknown[0]}' (targets: {', '.join(TARGETS)}, or a runtime profile)")


def _check_fit(name: str, chosen: Strategy, targets: list[str], ranks: Ranks) -> None:
    if ranks.within(chosen.spatial_ranks):
        return
    misfit = next(t for t in targets if not TARGETS[t].convtranspose_ranks.within(chosen.spatial_ranks))
    raise BadArgument(f"strategy '{name}' rewrites only {_ranks_text(chosen.spatial_ranks)} "
                      f"ConvTransposes and cannot serve target '{misfit}'")


def plan_fuse(recipes: tuple = ()) -> list[Step]:
    """The passes that fold chains back into single ops (the other direction of plan)."""
    return [Step(name, Options(recipes=recipes)) for name in FUSE_PASSES]



def _ranks_text(ranks: frozenset[int]) -> str:
    return "/".join(f"{r}-D" for r in sorted(ranks))


def _dedupe(steps: list[Step]) -> list[Step]:
    seen, kept = set(), []
    for s in steps:
        if s not in seen:
            seen.add(s)
            kept.append(s)
    return kept


def run(graph: gs.Graph, steps: list[Step], rounds: int = MAX_ROUNDS, typed: bool = False) -> list[PassReport]:
    """Apply the steps in order, repeating until a round changes nothing (at most `rounds` rounds; 1 for a
    step that is not idempotent, like padding the inputs). typed: onnx's shape inference succeeded on the
    graph before (shape_inference.annotate returned None); then a pass after which it fails is a PassError."""
    reports: list[PassReport] = []
    for _ in range(rounds):
        changed = False
        for step in steps:
            progress.say(f"pass {step.pass_name}")
            previous = [r.name for r in reports if r.modified]
            report = apply_pass(graph, get_pass(step.pass_name), step.options, previous)
            if report.modified:
                error = shape_inference.annotate(graph)
                broken = _failing_node(error) if typed and error else None
                if broken is not None and any(broken in names for names in report.written.values()):
                    raise PassError(step.pass_name, broken, previous, RuntimeError(f"a node it wrote no longer "
                                                                                   f"types: {error}"))
            reports.append(report)
            changed |= report.modified
        if not changed:
            break
    return merge(reports)


def _failing_node(error: str) -> str | None:
    """The node onnx's shape inference names in its error ('... node name: NAME): ...'), if it names one.
    Only a node the pass wrote is the pass's fault: a sharper type elsewhere can expose what was wrong
    before (an Add of shapes that never broadcast, hidden by an unknown dim)."""
    found = re.search(r"node name: (.*?)\)", error)
    return found.group(1) if found else None


def merge(reports: list[PassReport]) -> list[PassReport]:
    """One report per pass: later rounds add to the first; skips are kept from the last round only."""
    merged: dict[str, PassReport] = {}
    for r in reports:
        m = merged.setdefault(r.name, PassReport(r.name))
        m.applied += r.applied
        m.rewritten += r.rewritten
        for mine, theirs in ((m.written, r.written), (m.absorbed, r.absorbed)):
            for anchor, names in theirs.items():
                mine.setdefault(anchor, []).extend(names)
        m.recipes += r.recipes
        m.added.update(r.added)
        m.removed.update(r.removed)
        m.skipped = r.skipped
    return list(merged.values())


def violations(graph: gs.Graph, targets: list[str]) -> list[Violation]:
    """Every node the targets forbid (the first target it breaks), subgraphs and functions included."""
    found = []
    for g in all_graphs(graph):
        for node in g.nodes:
            for t in targets:
                why = TARGETS[t].violation(node)
                if why:
                    found.append(Violation(node.name, node.op, why, f"onnxport target {t}"))
                    break
    return found
