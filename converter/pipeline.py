"""Targets and strategies -> an ordered list of passes, run to a fixed point, then the targets re-checked.

A target names what must not remain (no-convtranspose3d: no ConvTranspose with 3 spatial dims) and how
to find it; a strategy picks which exact rewrite removes ConvTransposes. `fuse` plans the other
direction: chains folded back into single ops. After every pass the graph is cleaned up and toposorted
(by the driver) and shape-inferred (here), so later passes see ranks and sizes. Whatever still violates
a target afterwards is listed with the reason the pass gave for skipping it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import onnx_graphsurgeon as gs

import passes as _passes  # noqa: F401  (registers every pass)
from converter import shapes
from converter.errors import BadArgument
from passes import _driver, _registry
from passes._driver import PassReport
from passes._graph import constant_value

MAX_ROUNDS = 4


def _convtranspose_rank(node: gs.Node) -> int | None:
    weight = constant_value(node.inputs[1])
    shape = weight.shape if weight is not None else node.inputs[1].shape
    return len(shape) - 2 if shape is not None else None


def _convtranspose_of_rank(ranks: frozenset[int] | None) -> Callable[[gs.Node], str | None]:
    def violation(node: gs.Node) -> str | None:
        if node.op != "ConvTranspose":
            return None
        rank = _convtranspose_rank(node)
        if ranks is None or rank is None or rank in ranks:
            return f"ConvTranspose with {rank if rank is not None else '?'} spatial dims"
        return None
    return violation


def _implicit_padding(node: gs.Node) -> str | None:
    if node.op != "ConvTranspose":
        return None
    auto_pad = node.attrs.get("auto_pad", "NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    if auto_pad != "NOTSET" or node.attrs.get("output_shape"):
        return "ConvTranspose with " + (f"auto_pad {auto_pad}" if auto_pad != "NOTSET" else "output_shape")
    return None


def _resize_over_three_axes(node: gs.Node) -> str | None:
    if node.op not in ("Resize", "Upsample"):
        return None
    shape = node.inputs[0].shape
    return f"Resize of a rank-{len(shape)} tensor" if shape is not None and len(shape) >= 5 else None


def _dense_head(node: gs.Node) -> str | None:
    return f"a {node.op} head (the features are counted, not slid over)" if node.op in ("Flatten", "Gemm") else None


@dataclass(frozen=True)
class Target:
    name: str
    summary: str
    violation: Callable[[gs.Node], str | None]
    convtranspose_ranks: frozenset[int] | None | bool = False   # removed by the strategy; False: not at all
    passes: tuple[str, ...] = ()                                 # passes that serve it whatever the strategy


TARGETS = {t.name: t for t in (
    Target("no-convtranspose3d", "no ConvTranspose with 3 spatial dims", _convtranspose_of_rank(frozenset({3})),
           convtranspose_ranks=frozenset({3})),
    Target("no-convtranspose", "no ConvTranspose at all (1-D, 2-D and 3-D)", _convtranspose_of_rank(None),
           convtranspose_ranks=None),
    Target("normalize-padding", "ConvTranspose pads explicit: no auto_pad SAME_*/VALID, no output_shape",
           _implicit_padding, passes=("normalize-convtranspose-padding",)),
    Target("fully-convolutional", "no Flatten/Gemm head: the classifier becomes Convs and slides over larger inputs",
           _dense_head, passes=("gemm-head-to-conv",)),
    Target("no-resize5d", "no Resize of a tensor with rank >= 5 (4-D Resizes of one or two spatial axes instead)",
           _resize_over_three_axes, passes=("resize5d-to-resize4d",)),
)}
DEFAULT_TARGET = "no-convtranspose3d"


@dataclass(frozen=True)
class Strategy:
    pass_name: str
    spatial_ranks: frozenset[int] | None      # the ConvTranspose ranks it can rewrite


STRATEGIES = {
    "subpixel": Strategy("convtranspose-to-subpixel", None),
    "resize-conv": Strategy("convtranspose-to-resize-conv", None),
    "conv2d": Strategy("convtranspose3d-to-convtranspose2d", frozenset({3})),
}
DEFAULT_STRATEGY = "subpixel"
FUSE_PASSES = ("fuse-lowered", "resize4d-chain-to-resize5d", "fold-convtranspose-crop", "fold-convtranspose-bias",
               "upsample-conv-to-convtranspose", "conv-upsample-to-convtranspose")


@dataclass(frozen=True)
class Step:
    pass_name: str
    options: _registry.Options


def plan(targets: list[str], strategy: str, max_rank: int | None = None) -> list[Step]:
    """The passes that reach `targets` with `strategy`; bad names and misfits are BadArgument."""
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        raise BadArgument(f"unknown target '{unknown[0]}' (targets: {', '.join(TARGETS)})")
    if strategy not in STRATEGIES:
        raise BadArgument(f"unknown strategy '{strategy}' (strategies: {', '.join(STRATEGIES)})")
    if max_rank is not None and max_rank < 1:
        raise BadArgument(f"--max-rank {max_rank}: must be a positive rank")
    options = _registry.Options(max_rank=max_rank)
    steps = [Step(name, options) for t in targets for name in TARGETS[t].passes]
    lowering = [TARGETS[t] for t in targets if TARGETS[t].convtranspose_ranks is not False]
    if lowering:
        ranks = _union(t.convtranspose_ranks for t in lowering)
        chosen = STRATEGIES[strategy]
        if chosen.spatial_ranks is not None and (ranks is None or not ranks <= chosen.spatial_ranks):
            misfit = next(t.name for t in lowering if t.convtranspose_ranks is None
                          or not t.convtranspose_ranks <= chosen.spatial_ranks)
            raise BadArgument(f"strategy '{strategy}' rewrites only {_ranks_text(chosen.spatial_ranks)} "
                              f"ConvTransposes and cannot serve target '{misfit}'")
        steps.append(Step(chosen.pass_name, _registry.Options(spatial_ranks=ranks, max_rank=max_rank)))
    return _dedupe(steps)


def plan_fuse(recipes: tuple = ()) -> list[Step]:
    """The passes that fold chains back into single ops (the other direction of plan)."""
    return [Step(name, _registry.Options(recipes=recipes)) for name in FUSE_PASSES]


def _union(rank_sets) -> frozenset[int] | None:
    ranks: set[int] = set()
    for r in rank_sets:
        if r is None:
            return None
        ranks |= r
    return frozenset(ranks)


def _ranks_text(ranks: frozenset[int]) -> str:
    return "/".join(f"{r}-D" for r in sorted(ranks))


def _dedupe(steps: list[Step]) -> list[Step]:
    seen, kept = set(), []
    for s in steps:
        if s not in seen:
            seen.add(s)
            kept.append(s)
    return kept


def run(graph: gs.Graph, steps: list[Step], rounds: int = MAX_ROUNDS) -> list[PassReport]:
    """Apply the steps in order, repeating until a round changes nothing (at most `rounds` rounds; 1 for a
    step that is not idempotent, like padding the inputs)."""
    reports: list[PassReport] = []
    for _ in range(rounds):
        changed = False
        for step in steps:
            report = _driver.apply(graph, _registry.get(step.pass_name), step.options,
                                   [r.name for r in reports if r.modified])
            if report.modified:
                shapes.annotate(graph)
            reports.append(report)
            changed |= report.modified
        if not changed:
            break
    return _merge(reports)


def _merge(reports: list[PassReport]) -> list[PassReport]:
    """One report per pass: later rounds add to the first; skips are kept from the last round only."""
    merged: dict[str, PassReport] = {}
    for r in reports:
        m = merged.setdefault(r.name, PassReport(r.name))
        m.applied += r.applied
        m.rewritten += r.rewritten
        m.recipes += r.recipes
        m.added.update(r.added)
        m.removed.update(r.removed)
        m.skipped = r.skipped
    return list(merged.values())


def violations(graph: gs.Graph, targets: list[str]) -> list[tuple[str, str]]:
    """(node name, what it violates) for every node the targets forbid, subgraphs and functions included."""
    found = []
    for g in _driver.all_graphs(graph):
        for node in g.nodes:
            for t in targets:
                why = TARGETS[t].violation(node)
                if why:
                    found.append((node.name, why))
                    break
    return found
