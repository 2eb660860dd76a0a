"""The Pass shape every rewrite shares, and the registry `onnxport passes` lists.

A pass is a match step (pure: inspects one anchor node, returns a Match, a Skip saying why not, or None
when the node is not its business) and a rewrite step (builds the replacement for one Match). The driver
(passes._driver) owns iteration, overlap handling, cleanup and validation, so passes stay small.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable

import onnx_graphsurgeon as gs

from onnxport.errors import UnsupportedGraph


@dataclass(frozen=True)
class Skip:
    """A node the pass could have rewritten but did not, and why (shown in the report)."""

    reason: str


@dataclass(frozen=True)
class Options:
    """What the pipeline asks of a step: which nodes are in scope (the driver reads nodes and only) and
    every setting some pass reads. A pass never sees this: it gets its own `settings` object, built by
    settings_for from the fields that class declares."""

    spatial_ranks: frozenset[int] | None = None     # None: every spatial rank
    max_rank: int | None = None
    recipes: tuple = ()                             # what earlier lowerings recorded (for fusing back)
    relowering: bool = False                        # a recipe lowered again: checks on its inputs' producers held
    static_shapes: tuple = ()                       # (tensor name, shape) at the exported sizes, for freeing sizes
    valid_sizes: tuple = ()                         # ValidSize entries for pad-inputs-to-valid
    pad_mode: str = "constant"
    nodes: frozenset[str] | None = None             # only these anchors (per-node strategies); None: all
    only: Callable[[gs.Node], bool] | None = None   # only anchors this accepts (what a runtime profile forbids)
    strict_max_rank: bool = True                    # a node max_rank cannot reach: error (the user's --max-rank)
                                                    # or Skip (a profile's rank budget: the node is listed as left)



@dataclass(frozen=True)
class NoSettings:
    """A pass that reads no setting."""


@dataclass(frozen=True)
class RankBudget:
    """What a lowering reads: the spatial ranks in scope and the rank budget of the tensors it creates."""

    spatial_ranks: frozenset[int] | None = None
    max_rank: int | None = None
    strict_max_rank: bool = True
    relowering: bool = False

    def out_of_budget(self, message: str) -> Skip:
        """A node the rank budget cannot reach: a Skip under a profile's budget, else bad input."""
        if self.strict_max_rank:
            raise UnsupportedGraph(message)
        return Skip(message)


@dataclass(frozen=True)
class Recipes:
    """What fuse-lowered reads: the recipes earlier lowerings stored in the model."""

    recipes: tuple = ()


@dataclass(frozen=True)
class ExportedShapes:
    """What the size-freeing passes read: tensor shapes at the exported sizes."""

    static_shapes: tuple = ()

    def exported_shape(self, name: str):
        return dict(self.static_shapes).get(name)


@dataclass(frozen=True)
class PadToValid:
    """What pad-inputs-to-valid reads: the admissible sizes to pad to and how."""

    valid_sizes: tuple = ()
    pad_mode: str = "constant"


def settings_for(p: "Pass", options: Options):
    """The pass's own settings, taken from the step's options (a pass reads nothing else)."""
    return p.settings(**{f.name: getattr(options, f.name) for f in fields(p.settings)})


@dataclass(frozen=True)
class Pass:
    """A rewrite. `ensures`: what it guarantees afterwards, as node predicates (passes.conditions) none of
    the nodes a rewrite wrote may meet (those named after its anchor: NODE or NODE/...; every node for a
    graph-level pass); the driver checks them after the pass and raises PassError naming it. Every pass
    declares them, () with the reason where no node-level statement fits. `matches` is the type its match
    returns and its rewrite takes; a match of another type is a PassError naming the pass."""

    name: str
    summary: str
    anchor_ops: tuple[str, ...] | None              # None: any op can anchor a match; (): the graph itself
    match: Callable[[gs.Graph, gs.Node, object], object]     # (graph, anchor, its settings) -> Match, Skip, None
    rewrite: Callable[[gs.Graph, object, object], dict | None]   # may return a recipe (see passes._recipes)
    ensures: tuple[Callable[[gs.Node], str | None], ...]
    matches: type                                   # what its match returns besides Skip and None (the driver checks)
    settings: type = NoSettings                     # the settings class its match reads (see settings_for)
    doc: str = ""
    min_opset: int = 1
    changes_output_ranks: bool = False              # a head made fully convolutional gains trailing 1s


_REGISTRY: dict[str, Pass] = {}


def register(p: Pass) -> Pass:
    if p.name in _REGISTRY:
        raise ValueError(f"pass '{p.name}' registered twice")
    _REGISTRY[p.name] = p
    return p


def get(name: str) -> Pass:
    return _REGISTRY[name]


def all_passes() -> list[Pass]:
    return sorted(_REGISTRY.values(), key=lambda p: p.name)
