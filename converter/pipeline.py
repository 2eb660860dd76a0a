"""Targets and strategies -> an ordered list of passes, run to a fixed point, then the target re-checked.

A target names what must not remain (no-convtranspose3d: no ConvTranspose with 3 spatial dims); a
strategy picks which exact rewrite removes it. After every pass the graph is cleaned up and toposorted
(by the driver) and shape-inferred (here), so later passes see ranks and sizes. Whatever still violates
a target afterwards is listed with the reason the pass gave for skipping it.
"""
from __future__ import annotations

from dataclasses import dataclass

import onnx_graphsurgeon as gs

import passes as _passes  # noqa: F401  (registers every pass)
from converter import shapes
from converter.errors import BadArgument
from passes import _driver, _registry
from passes._driver import PassReport
from passes._graph import constant_value

MAX_ROUNDS = 4


@dataclass(frozen=True)
class Target:
    name: str
    summary: str
    spatial_ranks: frozenset[int] | None          # ConvTranspose ranks the target removes


TARGETS = {
    "no-convtranspose3d": Target("no-convtranspose3d", "no ConvTranspose with 3 spatial dims", frozenset({3})),
    "no-convtranspose": Target("no-convtranspose", "no ConvTranspose at all (1-D, 2-D and 3-D)", None),
}
DEFAULT_TARGET = "no-convtranspose3d"

# strategy -> (pass name, targets it can serve)
STRATEGIES = {
    "subpixel": ("convtranspose-to-subpixel", frozenset(TARGETS)),
    "resize-conv": ("convtranspose-to-resize-conv", frozenset(TARGETS)),
    "conv2d": ("convtranspose3d-to-convtranspose2d", frozenset({"no-convtranspose3d"})),
}
DEFAULT_STRATEGY = "subpixel"


@dataclass(frozen=True)
class Step:
    pass_name: str
    options: _registry.Options


def plan(targets: list[str], strategy: str, max_rank: int | None = None) -> list[Step]:
    """The passes that reach `targets` with `strategy`; bad names are BadArgument."""
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        raise BadArgument(f"unknown target '{unknown[0]}' (targets: {', '.join(TARGETS)})")
    if strategy not in STRATEGIES:
        raise BadArgument(f"unknown strategy '{strategy}' (strategies: {', '.join(STRATEGIES)})")
    pass_name, serves = STRATEGIES[strategy]
    cannot = [t for t in targets if t not in serves]
    if cannot:
        raise BadArgument(f"strategy '{strategy}' cannot serve target '{cannot[0]}'")
    ranks = _union_ranks(TARGETS[t] for t in targets)
    return [Step(pass_name, _registry.Options(spatial_ranks=ranks, max_rank=max_rank))]


def _union_ranks(targets) -> frozenset[int] | None:
    ranks: set[int] = set()
    for t in targets:
        if t.spatial_ranks is None:
            return None
        ranks |= t.spatial_ranks
    return frozenset(ranks)


def run(graph: gs.Graph, steps: list[Step]) -> list[PassReport]:
    """Apply the steps in order, repeating until a round changes nothing (at most MAX_ROUNDS rounds)."""
    reports: list[PassReport] = []
    for _ in range(MAX_ROUNDS):
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
        m.added.update(r.added)
        m.removed.update(r.removed)
        m.skipped = r.skipped
    return list(merged.values())


def violations(graph: gs.Graph, targets: list[str]) -> list[tuple[str, str]]:
    """(node name, what it violates) for every node the targets forbid, subgraphs and functions included."""
    ranks = _union_ranks(TARGETS[t] for t in targets)
    found = []
    for g in _driver.all_graphs(graph):
        for node in g.nodes:
            if node.op != "ConvTranspose":
                continue
            rank = _spatial_rank(node)
            if ranks is None or rank in ranks or rank is None:
                found.append((node.name, f"ConvTranspose with {rank if rank is not None else '?'} spatial dims"))
    return found


def _spatial_rank(node: gs.Node) -> int | None:
    weight = constant_value(node.inputs[1])
    shape = weight.shape if weight is not None else node.inputs[1].shape
    return len(shape) - 2 if shape is not None else None
