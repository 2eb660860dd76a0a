"""Admissible input sizes, per axis, from exact integer arithmetic.

Each non-batch axis of each image-like input is followed through the graph on its own, the other axes
held at a reference size (the exported one, or for a symbolic dim a size the net takes). Its length
n is split into residue classes on which every length is affine (converter.residues); the op rules
(converter.length_rules) apply the real length functions: floor for Conv/Pool, ceil_mode, ConvTranspose,
integer or rational Resize, Pad, Slice, Reshapes that keep or merge the axis, and the shape arithmetic of
dynamic exports. Joins keep the classes where their lengths meet.

Two sets come out per axis: the sizes at which the net **runs** and its joins match (a U-Net with four
stride-2 levels: 16 + 16n), and the sizes at which it also **loses nothing** (no Conv/Pool drops a border
sample: the seed's 61 + 16n, what --dense and --pad-to-valid need), each with the node that decides it.
A Reshape target or Resize size that bakes the exported size counts as what it regroups or scales, as
strip-sizes makes it; a constant the axis meets (a positional embedding, a linear layer's features)
pins the axis. An axis that meets a Conv's channels is reported as channels.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.converter import shape_inference
from onnxport.converter.sizes.length_rules import DATA_RULES, MULTI_DIM, VALUE_RULES, Place, Stop, full, name
from onnxport.converter.sizes.residues import ResidueClass, const
from onnxport.converter.sizes.size_sets import Progression, SizeSet
from onnxport.passes import Options, apply_pass, constant_value, evaluate_shape as evaluate, get_pass, image_size_home

MAX_CLASSES = 4096
FOLD_ROUNDS = 4          # as the pipeline's passes: folding settles in one or two rounds
REFERENCE_SIZES = (32, 64, 48, 16, 24, 40, 96, 128)       # tried for a symbolic dim, first that the net takes
GROWTH = 4          # outputs this many times longer than the axis: a latent (a generator's z), held small


@dataclass
class AxisSizes:
    """What one input axis admits. runs: sizes where the net runs and its joins match; lossless: those
    where, moreover, no layer drops a border sample. None where the axis was not followed."""

    input: str
    axis: int
    role: str = "spatial"                  # or "channels"
    runs: SizeSet | None = None
    lossless: SizeSet | None = None
    exported: int | None = None
    runs_by: str = ""                      # the node that restricts where it runs (a join, a pin)
    lossless_by: str = ""                  # the first node that drops a border sample somewhere
    note: str = ""                         # where the analysis stopped, if it did
    reference: dict = field(default_factory=dict)   # the other inputs' sizes the analysis held fixed
    check: object = None                   # converter.size_probe.Check: the lengths run on onnxruntime
    bounded: str = ""                      # set by the check: runs/lossless are the lengths that ran, and why no more
    note_check: str = ""                   # why the claim could not be checked on onnxruntime
    _outputs: list = field(default_factory=list, repr=False)   # per class: (class, {output: (Place, factor)})

    @property
    def complete(self) -> bool:
        return not self.note

    @property
    def pinned(self) -> bool:
        """Finitely many sizes run (a positional embedding, a linear head): the net does not slide."""
        return self.runs is not None and self.runs.finite

    def text(self) -> str:
        exported = f"exported at {self.exported}" if self.exported is not None else ""
        if self.role == "channels":
            return f"channels ({self.exported}, fixed by {self.runs_by})"
        if self.runs is None:
            return f"not analysed ({self.note})"
        parts = []
        if self.bounded and not self.check.up_to:     # kept fixed: the exported size alone
            return f"runs at {self.exported} only, as exported ({self.bounded})"
        if self.bounded:                       # checked on onnxruntime: only what ran is claimed
            ran = ", ".join(map(str, self.runs.singles)) or "none"
            parts.append(f"runs at {ran} of 1..{self.check.up_to} ({self.check.text()})")
            if self.lossless.singles and not self.note:
                parts.append(f"loses nothing at {', '.join(map(str, self.lossless.singles))} of those")
            parts.append(self.bounded)
        elif not self.complete:                # the analysis stopped: its set only bounds the sizes that run
            parts.append(f"unknown past {self.note}")
            parts.append(f"at most {self.runs.text()} (the layers before it)" if not self.runs.empty else
                         f"no size runs ({self.runs_by})")
            if self.note_check:
                parts.append(self.note_check)
        elif self.runs.empty:
            parts.append(f"no size runs ({self.runs_by})")
        else:
            parts.append(f"runs at {self.runs.text()}" + (f" ({self.runs_by})" if self.runs_by else ""))
            parts.append(f"loses nothing at {self.lossless.text()}"
                         + (f" ({self.lossless_by} drops border samples elsewhere)" if self.lossless_by else ""))
            if self.check is not None:
                parts.append(self.check.text())
            elif self.note_check:
                parts.append(self.note_check)
        if exported:
            parts.append(exported + ("" if self.exported in self.runs else ", where it does not run"))
        return "; ".join(parts)

    def output_shapes(self, n: int, shapes: dict[str, list]) -> dict[str, list] | None:
        """The graph outputs' shapes at input length n (others at the reference), from `shapes` (the
        outputs at the reference) with the traced dim recomputed; None if n is not admissible."""
        for cls, outputs in self._outputs:
            v = cls.v_of(n)
            if v is None:
                continue
            found = {k: list(v_) for k, v_ in shapes.items()}
            for out, (place, factor) in outputs.items():
                if out in found:
                    found[out][place.dim] = int(place.outer * place.inner * (factor[0] * v + factor[1]))
            return found
        return None

    def output_lengths(self, n: int) -> list[int] | None:
        """The traced dims' lengths in the graph outputs the axis reaches, at input length n (None: n is
        not admissible)."""
        for cls, outputs in self._outputs:
            v = cls.v_of(n)
            if v is not None:
                return [int(p.outer * p.inner * (f[0] * v + f[1])) for p, f in outputs.values()]
        return None

    def grows(self, n: int | None) -> bool:
        """At length n the outputs the axis reaches are GROWTH times longer than it (a latent)."""
        lengths = self.output_lengths(n) if n is not None and self.complete else None
        return bool(lengths) and min(lengths) >= GROWTH * n

    def follows(self) -> tuple[tuple[str, int], ...]:
        """Graph outputs (with their axis) whose length equals the input length at every lossless size."""
        lossless = [(cls, outs) for cls, outs in self._outputs if not cls.lossy]
        if not lossless:
            return ()
        names = set.intersection(*[{o for o, (p, f) in outs.items() if not p.merged and f == cls.n}
                                   for cls, outs in lossless])
        return tuple((o, lossless[0][1][o][0].dim) for o in sorted(names))

    def to_dict(self) -> dict:
        return {"input": self.input, "axis": self.axis, "role": self.role, "exported": self.exported,
                "runs": self.runs.to_dict() if self.runs else None,
                "lossless": self.lossless.to_dict() if self.lossless else None,
                "runs_by": self.runs_by, "lossless_by": self.lossless_by, "note": self.note,
                "check": self.check.to_dict() if self.check is not None else None, "bounded": self.bounded,
                "reference": self.reference, "text": self.text()}


class _Walk:
    """The class-independent state of one traced axis: where the factor sits in each tensor."""

    def __init__(self, static: dict, x: gs.Tensor, axis: int, opset: int, images: list[tuple[str, list]] = ()):
        self.static, self.opset = static, opset
        self.source, self.axis = x.name, axis
        self.images = list(images)          # (input, its fixed dims or None): whose size a baked Resize size is
        self.places = {x.name: Place(axis)}
        self.valued: set[str] = set()
        self.restrictions: list[str] = []        # in node order: what removed sizes from some class
        self.role = "spatial"
        self.fixed_by = ""
        self._constants: dict = {}

    def shape(self, t: gs.Tensor):
        if isinstance(t, gs.Constant):
            return list(t.shape)
        return self.static.get(t.name)

    def constant(self, t: gs.Tensor):
        if t is None or not t.name:
            return None
        if t.name not in self._constants:         # a constant, or computed from constants alone (traced pads)
            value = constant_value(t)
            self._constants[t.name] = value if value is not None or not t.inputs else evaluate(t, {}, self.opset)
        return self._constants[t.name]

    def vector(self, cls: ResidueClass, t: gs.Tensor):
        if t.name in cls.values:
            return cls.values[t.name]
        value = self.constant(t)
        return None if value is None else tuple(const(int(v)) for v in np.ravel(value))

    def reference_factor(self, t: gs.Tensor) -> int:
        p = self.places[t.name]
        return self.static[t.name][p.dim] // (p.outer * p.inner)

    def set(self, cls: ResidueClass, t: gs.Tensor, place: Place, factor) -> None:
        if t.name:
            self.places[t.name] = place
            cls.lengths[t.name] = factor

    def set_values(self, cls: ResidueClass, t: gs.Tensor, values) -> None:
        self.valued.add(t.name)
        cls.values[t.name] = tuple(values)

    def image_size(self, cls: ResidueClass, place: Place, size: int, rank: int):
        """The traced length where a constant Resize size on its dim is the traced input's fixed size (a
        resize back to the image's size, read as strip-sizes frees it: _resize.image_size_home), else None."""
        images = [(n, dims) for n, dims in self.images if len(dims) == rank]
        if place.merged or place.dim != self.axis or image_size_home(size, place.dim, images) != self.source:
            return None
        return cls.n

    def copy(self, cls, x, outputs):
        for t in outputs:
            self.set(cls, t, self.places[x.name], cls.lengths[x.name])
        return [cls]

    def restrict(self, reason: str) -> None:
        if reason not in self.restrictions:
            self.restrictions.append(reason)

    def channels(self, cls, node, x):
        self.role, self.fixed_by = "channels", self.fixed_by or name(node)
        return self.features(cls, node, x, "channels")

    def features(self, cls, node, x, what: str = "features"):
        """The axis meets a fixed size (a weight's channels or features): only the reference size runs."""
        reference = self.static[x.name][self.places[x.name].dim]
        pinned = cls.equal(full(self, cls, x), const(reference))
        if pinned is not cls:
            self.restrict(f"{name(node)} fixes its {what} at {reference}")
        if pinned is None:
            return []
        for t in node.outputs:
            if t.name in self.static:
                self.places.pop(t.name, None)
        return [pinned]


def admissible_sizes(graph: gs.Graph) -> list[AxisSizes]:
    """One AxisSizes per non-batch axis of every graph input of rank >= 3."""
    images = [x for x in graph.inputs if x.shape is not None and len(x.shape) >= 3]
    declared = {x.name: [d if isinstance(d, int) and d > 0 else None for d in x.shape] for x in images}
    held = {name: [d if d is not None else (1 if i == 0 else REFERENCE_SIZES[0]) for i, d in enumerate(dims)]
            for name, dims in declared.items()}
    held.update(_held_others(graph, images, held))
    results = _analyse_all(graph, images, declared, held)
    for _ in range(2):              # a symbolic dim held at a size it does not take, or a latent: a better one
        better = _better_reference(results, held)
        if better == held:
            break
        held = better
        results = _analyse_all(graph, images, declared, held)
    return results


def _held_others(graph: gs.Graph, images: list[gs.Tensor], held: dict) -> dict:
    """Sizes for the other inputs (a diffusion net's timesteps), so shapes downstream of them are known: a
    dim named like an image dim takes its size (the shared batch), any other symbolic dim 1."""
    by_name = {d: held[x.name][i] for x in images for i, d in enumerate(x.shape) if isinstance(d, str)}
    return {t.name: [d if isinstance(d, int) and d > 0 else by_name.get(d, 1) for d in t.shape]
            for t in graph.inputs if t.shape is not None and t.name not in held}


def _analyse_all(graph: gs.Graph, images: list[gs.Tensor], declared: dict, held: dict) -> list[AxisSizes]:
    static = static_shapes(graph, held)
    results = []
    for x in images:
        for axis in range(1, len(x.shape)):
            sizes = _trace(graph, static, x, axis) if static is not None else \
                AxisSizes(x.name, axis, note="shape inference fails at the reference sizes")
            sizes.exported, sizes.reference = declared[x.name][axis], held
            results.append(sizes)
    return results


def _better_reference(results: list[AxisSizes], held: dict) -> dict:
    better = {k: list(v) for k, v in held.items()}
    for a in results:
        if a.exported is None and a.runs is not None and not a.runs.empty:
            now = held[a.input][a.axis]
            if a.grows(now if now in a.runs else a.runs.next_at_least(16)):
                better[a.input][a.axis] = a.runs.smallest(1)[0]     # a latent at 32 makes outputs of 512 and more
            elif now not in a.runs:
                better[a.input][a.axis] = a.runs.next_at_least(16) or a.runs.smallest(1)[0]
    return better


def static_shapes(graph: gs.Graph, held: dict) -> dict | None:
    """Every tensor's shape with the inputs at `held`. Where onnx's inference cannot follow the shape
    arithmetic of a dynamic export (a Div in a Reshape target), it is folded at those sizes first."""
    static = _inferred(graph, held)
    if any(t.name not in static for n in graph.nodes for t in n.outputs if t.name):
        folded = graph.copy()
        for t in folded.inputs:
            if t.name in held:
                t.shape = list(held[t.name])
        shape_inference.annotate(folded)
        fold = get_pass("fold-shape-computations")
        for _ in range(FOLD_ROUNDS):
            if not apply_pass(folded, fold, Options(), []).modified:
                break
            shape_inference.annotate(folded)
        static = {**_inferred(folded, held), **static}
    return static or None


def _inferred(graph: gs.Graph, held: dict) -> dict:
    static = {}
    for name_, vi in shape_inference.infer(graph, held).items():
        dims = shape_inference.dims_of(vi)
        if dims is not None and all(isinstance(d, int) for d in dims):
            static[name_] = dims
    for x in graph.inputs:
        if x.name in held:
            static[x.name] = held[x.name]
    for name_, t in graph.tensors().items():      # what folding made constant keeps its name
        if isinstance(t, gs.Constant) and name_ not in static:
            static[name_] = list(t.shape)
    return static


def _trace(graph: gs.Graph, static: dict, x: gs.Tensor, axis: int) -> AxisSizes:
    images = [(t.name, [d if isinstance(d, int) and d > 0 else None for d in t.shape])
              for t in graph.inputs if t.shape is not None]
    walk = _Walk(static, x, axis, int(graph.opset), images)
    classes, note = [ResidueClass.whole(x.name)], ""
    for node in graph.nodes:
        placed = any(t.name in walk.places for t in node.inputs)
        valued = node.op == "Shape" or any(t.name in walk.valued for t in node.inputs)
        if placed and node.op != "Shape":
            rule = DATA_RULES.get(node.op)
            several = any(walk.places[t.name].also for t in node.inputs if t.name in walk.places)
            unknown = any(walk.shape(t) is None for t in node.inputs if t.name in walk.places)
            if rule is None or unknown or (several and rule.__name__ not in MULTI_DIM):
                note = name(node) + (" (a tensor of unknown shape)" if unknown else
                                     " (the axis sits in several dims)" if rule is not None else "")
                break
            try:
                classes = [c2 for c in classes for c2 in rule(walk, node, c)]
            except Stop as e:
                note = str(e)
                break
        elif valued and node.op in VALUE_RULES:
            try:
                classes = [c2 for c in classes for c2 in VALUE_RULES[node.op](walk, node, c)]
            except Stop:           # a shape vector it cannot follow: consumers that need it stop there
                for t in node.outputs:
                    walk.valued.discard(t.name)
        if len(classes) > MAX_CLASSES:
            note = f"{name(node)} (more than {MAX_CLASSES} residue classes)"
            break
        if not classes:
            break
    return _result(graph, walk, classes, x, axis, note)


def _result(graph, walk: _Walk, classes: list[ResidueClass], x, axis, note: str) -> AxisSizes:
    runs, lossless, outputs = [], [], []
    for cls in classes:
        bounds = cls.v_range()
        if bounds is None:
            continue
        progression = _progression(cls, bounds)
        runs.append(progression)
        if not cls.lossy:
            lossless.append(progression)
        outputs.append((cls, {t.name: (walk.places[t.name], cls.lengths[t.name])
                              for t in graph.outputs if t.name in walk.places}))
    restricted = walk.restrictions
    lossy = [c.lossy for c in classes if c.lossy]
    return AxisSizes(x.name, axis, walk.role, SizeSet.of(runs), SizeSet.of(lossless),
                     runs_by=walk.fixed_by or (restricted[0] if restricted else ""),
                     lossless_by=lossy[0] if lossy else "", note=note, _outputs=outputs)


def _progression(cls: ResidueClass, bounds: tuple) -> Progression:
    (a, b), (low, high) = cls.n, bounds
    if a == 0:
        return Progression(int(b), 0)
    start = int(a * low + b)
    count = None if high is None else high - low + 1
    return Progression(start, int(a), count)

