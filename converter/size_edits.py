"""Freeing and fixing input sizes: strip-sizes, fix-sizes, and the plans for pad-to-valid and --dense.

strip-sizes makes the batch and the spatial input dims symbolic, forgets shapes that were only true at
the exported size, and rewrites what bakes sizes in (Reshape targets, Expand shapes, Slice ends, Resize
sizes) from the factors each dim is made of (passes._symbolic_dims). A dim that is truly pinned (a
positional embedding, a Flatten/Gemm head, a Reshape that splits it) stays fixed and the report says
which node fixes it; only a dim the user named with --axes is an error then. fix-sizes sets sizes and
folds the shape arithmetic that became constant.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
import onnx_graphsurgeon as gs

from onnxport.converter.report_header import header
from onnxport.converter import input_specs, pipeline, shape_inference
from onnxport.converter.files import graph_io
from onnxport.converter.sizes import admissible_sizes, batch_independence
from onnxport.converter.verification import run_plan
from onnxport.errors import BadArgument, UnsupportedGraph
from onnxport.passes import Options, PassReport, propagate_symbolic_dims as propagate
from onnxport.passes.pad_inputs_to_valid import ValidSize

SPATIAL_NAMES = {1: ["L"], 2: ["H", "W"], 3: ["D", "H", "W"]}
HEADS = ("Flatten", "Gemm", "MatMul")


@dataclass
class SizesReport:
    freed: dict = field(default_factory=dict)        # input -> {axis: symbolic name}
    kept: dict = field(default_factory=dict)         # input -> {axis: why it stays fixed}
    fixed: dict = field(default_factory=dict)        # input -> shape
    admissible: list = field(default_factory=list)   # admissible_sizes.AxisSizes of the freed spatial axes
    passes: list[PassReport] = field(default_factory=list)
    verification: object = None
    output: str | None = None

    def text(self) -> str:
        lines = []
        for name, dims in self.freed.items():
            lines.append(f"freed {name}: " + ", ".join(f"axis {a} -> {d}" for a, d in dims.items()))
        for name, dims in self.kept.items():
            for axis, why in dims.items():
                lines.append(f"kept {name} axis {axis} fixed: {why}")
        for name, shape in self.fixed.items():
            lines.append(f"fixed {name}: {'x'.join(map(str, shape))}")
        for a in self.admissible:
            lines.append(f"  {a.input} axis {a.axis}: {a.text()}")
        for p in self.passes:
            if p.applied:
                lines.append(f"  {p.name}: rewrote {p.applied} node(s)")
            for node, why in p.skipped:
                lines.append(f"  {p.name}: left '{node}': {why}")
        if self.verification is not None:
            lines.append(f"  verify: {self.verification.summary()}")
        if self.output:
            lines.append(f"  wrote {self.output}")
        return "\n".join(lines)

    @property
    def ok(self) -> bool:
        return self.verification is None or self.verification.ok

    def summary(self) -> str:
        done = (f"freed {sum(len(d) for d in self.freed.values())} dim(s), kept {sum(len(d) for d in self.kept.values())} "
                f"fixed" if self.freed or self.kept else f"fixed {len(self.fixed)} input(s)")
        check = self.verification.headline() if self.verification else "not verified"
        return f"{done}; {check}" + (f"; wrote {self.output}" if self.output else "")

    def to_dict(self) -> dict:
        return {**header(), "ok": self.ok, "summary": self.summary(), "freed": self.freed, "kept": self.kept, "fixed": self.fixed,
                "admissible": [a.to_dict() for a in self.admissible],
                "passes": [p.to_dict() for p in self.passes], "output": self.output,
                "verification": self.verification.to_dict() if self.verification else None}


def choose(model: onnx.ModelProto, names: list[str] | None, axes: list[int] | None,
           spatial: dict[str, list[int]]) -> dict[str, list[int]]:
    """Input -> axes to free: by default the batch and the spatial axes (`spatial`, from converter.admissible_sizes:
    channels-last inputs included) of every image-like input."""
    specs = {s.name: s for s in input_specs.input_specs(model)}
    for name in names or []:
        if name not in specs:
            raise BadArgument(f"--input {name}: not a graph input (inputs: {', '.join(specs) or 'none'})")
    chosen = {}
    floating = {n: np.issubdtype(onnx.helper.tensor_dtype_to_np_dtype(s.elem_type), np.floating) for n, s in specs.items()}
    images = [n for n, s in specs.items() if len(s.dims) >= 3 and floating[n]]
    batch = {specs[n].dims[0] for n in images}
    for name, spec in specs.items():
        rank = len(spec.dims)
        if names and name not in names:
            continue
        if not names and name not in images:
            # a feature vector (N, F) frees its batch; another input that carries the images' batch
            # (a diffusion net's timesteps, one per item) frees it with them
            if rank >= 1 and ((rank == 2 and floating[name] and not images) or (images and spec.dims[0] in batch
                                                                                and axes is None)):
                chosen[name] = [0]
            continue
        wanted = axes if axes is not None else [0] + spatial.get(name, list(range(2, rank)))
        bad = [a for a in wanted if not -rank <= a < rank]
        if bad:
            raise BadArgument(f"--axes {bad[0]}: out of range for input {name} of rank {rank}")
        chosen[name] = sorted({a % rank for a in wanted})
    if not chosen:
        raise BadArgument("no input to free (give --input NAME)")
    return chosen


def _names(chosen: dict[str, list[int]], spatial: dict[str, list[int]]) -> dict[str, dict[int, str]]:
    """N for the batch, D/H/W (or L, H/W) for the spatial axes in order, prefixed when several inputs."""
    prefix = sum(1 for axes in chosen.values() if any(a != 0 for a in axes)) > 1
    names = {}
    for name, axes in chosen.items():
        order = spatial.get(name, [])
        letters = SPATIAL_NAMES.get(len(order), [f"S{i}" for i in range(len(order))])
        names[name] = {}
        for a in axes:
            if a == 0:                              # one batch for every input: N
                names[name][a] = "N"
                continue
            base = letters[order.index(a)] if a in order else f"A{a}"
            names[name][a] = f"{name}_{base}" if prefix else base
    return names


def strip(model: onnx.ModelProto, names: list[str] | None = None, axes: list[int] | None = None, folder=None,
          keep: dict | None = None, sizes_to_scales: bool = True):
    """(model with the chosen sizes free, SizesReport). A pinned dim stays fixed (the report says why),
    unless the user named it in `axes`: then UnsupportedGraph names the node that pins it. keep: further
    (input, axis) -> why, to leave fixed (dims whose check failed once freed). sizes_to_scales: a Resize
    whose constant sizes bake the exported size becomes a Resize by scales (a decoder's up-sampling to
    its skip's size follows the input); without, its sizes stay as the graph has them (a resample to a
    fixed size, F.interpolate(size=32), stays 32 at every input size). It is tried first; where it cannot
    be (sizes computed), the graph's sizes are kept."""
    graph = graph_io.to_graph(model, folder)
    shape_inference.annotate(graph)
    analysed = admissible_sizes.admissible_sizes(graph)
    spatial = {}
    for a in analysed:
        if a.role == "spatial":
            spatial.setdefault(a.input, []).append(a.axis)
    chosen = choose(model, names, axes, spatial)
    empty = next(((t.name, i) for t in graph.inputs for i, d in enumerate(t.shape or []) if d == 0), None)
    if empty is not None:
        raise UnsupportedGraph(f"input {empty[0]} has a zero-length dim (axis {empty[1]}): an empty tensor has "
                               f"no sizes to free")
    exported = {t.name: list(t.shape) for t in graph.inputs
                if t.shape is not None and all(isinstance(d, int) and d > 0 for d in t.shape)}
    static = {n: list(t.shape) for n, t in graph.tensors().items()
              if t.shape is not None and all(isinstance(d, int) for d in t.shape)}
    static = {**(admissible_sizes.static_shapes(graph, exported) or {}), **static}     # past computed pads too
    kept = {(a.input, a.axis): _why_pinned(a) for a in analysed
            if a.axis in chosen.get(a.input, []) and (a.runs is None or a.pinned)}
    kept.update(keep or {})
    while True:                     # a freed dim the symbolic dims pin stays fixed too
        batch_kept = next((why for (n, a), why in kept.items() if a == 0), None)
        if batch_kept is not None:  # one batch for every input: kept for one, kept for all
            kept.update({(n, 0): batch_kept for n, ax in chosen.items() if 0 in ax and (n, 0) not in kept})
        freed = {n: [a for a in ax if (n, a) not in kept] for n, ax in chosen.items()}
        pins = {k: v for k, v in propagate(graph, static, freed).pins.items() if k not in kept}
        pins.update(_lost_batches(graph, static, freed))
        if not pins:
            break
        kept.update(pins)
    if axes is not None and kept:
        (name, axis), why = next(iter(kept.items()))
        raise UnsupportedGraph(f"cannot free {name} axis {axis}: {why}" + _head_hint(why))
    dim_names = _names(freed, spatial)
    for t in graph.inputs:
        if t.name in dim_names:
            t.shape = [dim_names[t.name].get(i, d) for i, d in enumerate(t.shape)]
    for t in graph.tensors().values():
        if isinstance(t, gs.Variable) and t not in graph.inputs:
            t.shape = None
    shape_inference.annotate(graph)
    options = Options(static_shapes=tuple((n, tuple(v)) for n, v in static.items()))
    steps = ("free-baked-sizes", "resize-sizes-to-scales") if sizes_to_scales else ("free-baked-sizes",)
    reports = pipeline.run(graph, [pipeline.Step(name, options) for name in steps])
    for r in reports:
        if r.skipped and r.name == "resize-sizes-to-scales":       # sizes it cannot scale: keep the graph's own
            return strip(model, names, axes, folder, keep, sizes_to_scales=False)
        if r.skipped:
            node, why = r.skipped[0]
            spatial_freed = {(n, a): f"'{node}' pins it ({why})" for n, ax in freed.items() for a in ax if a != 0}
            if axes is None and spatial_freed:      # keep the spatial sizes, free what remains (the batch)
                return strip(model, names, axes, folder, {**(keep or {}), **spatial_freed}, sizes_to_scales)
            raise UnsupportedGraph(f"cannot free the sizes: '{node}' pins them ({why})")
    _declare_outputs(graph)
    report = SizesReport(freed={n: dict(d) for n, d in dim_names.items() if d},
                         admissible=[a for a in analysed if a.axis in freed.get(a.input, [])], passes=reports)
    for (name, axis), why in kept.items():
        report.kept.setdefault(name, {})[axis] = why
    freed_model = graph_io.to_model(graph, like=model)
    _record_exported_sizes(freed_model, model, set(dim_names))
    return freed_model, report


def _record_exported_sizes(freed: onnx.ModelProto, original: onnx.ModelProto, inputs: set[str]) -> None:
    """The sizes the freed inputs had, in the model's metadata: verification tries them first (a size the
    export is known to run at), run_plan.EXPORTED_SIZES."""
    specs = [s for s in input_specs.input_specs(original)]
    if not all(isinstance(d, int) and d > 0 for s in specs for d in s.dims) or not inputs:
        return
    text = ";".join(f"{s.name}={'x'.join(map(str, s.dims))}" for s in specs)
    kept = [p for p in freed.metadata_props if p.key != run_plan.EXPORTED_SIZES]
    del freed.metadata_props[:]
    freed.metadata_props.extend(kept)
    freed.metadata_props.add(key=run_plan.EXPORTED_SIZES, value=text)


def _lost_batches(graph: gs.Graph, static: dict, freed: dict[str, list[int]]) -> dict:
    """Batches being freed that do not reach the outputs as their batch (batch_independence.lost_batch)."""
    lost = {}
    for x in graph.inputs:
        if 0 in freed.get(x.name, []):
            why = batch_independence.lost_batch(graph, static, x)
            if why is not None:
                lost[(x.name, 0)] = f"{why}: a view regroups it with other axes, so batch 2 would mix samples"
    return lost


def _why_pinned(a: admissible_sizes.AxisSizes) -> str:
    if a.runs is None:
        return f"its sizes could not be followed ({a.note})"
    return f"{a.text()}" + _head_hint(a.runs_by)


def _head_hint(why: str) -> str:
    head = any(f"{op} '" in why for op in HEADS)
    return "; make the Flatten/Gemm head convolutional first (convert --target fully-convolutional)" if head else ""


def _declare_outputs(graph: gs.Graph) -> None:
    """Graph outputs get their inferred shapes; dims inference cannot tell stay unnamed."""
    infos = shape_inference.infer(graph)
    for t in graph.outputs:
        vi = infos.get(t.name)
        dims = shape_inference.dims_of(vi) if vi is not None else None
        t.shape = [d if isinstance(d, int) else None for d in dims] if dims is not None else None


def fix(model: onnx.ModelProto, wanted: dict[str, tuple[int, ...]], folder=None):
    """(model with the given input sizes and its shape arithmetic folded, SizesReport)."""
    if not wanted:
        raise BadArgument("fix-sizes needs --shape NAME=DIMS")
    input_specs.check_overrides(input_specs.input_specs(model), wanted)
    graph = graph_io.to_graph(model, folder)
    report = fix_graph(graph, wanted)
    fixed = graph_io.to_model(graph, like=model)
    del fixed.graph.value_info[:]
    fixed.graph.value_info.extend(shape_inference.value_infos(graph))
    return fixed, report


def fix_graph(graph: gs.Graph, wanted: dict[str, tuple[int, ...]]) -> SizesReport:
    """fix() on a graph in place (convert --fix-sizes goes on with the same graph)."""
    _check_admissible(graph, wanted)
    for t in graph.inputs:
        if t.name in wanted:
            t.shape = list(wanted[t.name])
    for t in graph.tensors().values():
        if isinstance(t, gs.Variable) and t not in graph.inputs:
            t.shape = None
    shape_inference.annotate(graph)
    reports = pipeline.run(graph, [pipeline.Step("fold-shape-computations", Options())])
    _declare_outputs(graph)
    return SizesReport(fixed={k: list(v) for k, v in wanted.items()}, passes=reports)


def _check_admissible(graph: gs.Graph, wanted: dict[str, tuple[int, ...]]) -> None:
    """A size the net does not run at is bad input: name the nearest ones it takes."""
    symbolic = {t.name for t in graph.inputs if t.shape is not None and not all(isinstance(d, int) for d in t.shape)}
    if not symbolic & set(wanted):
        return
    for a in admissible_sizes.admissible_sizes(graph):
        if a.input not in wanted or a.role != "spatial" or a.runs is None or a.exported is not None:
            continue
        n = wanted[a.input][a.axis]
        if n not in a.runs:
            near = " or ".join(map(str, a.runs.nearest(n))) or "none"
            raise BadArgument(f"--shape {a.input}: axis {a.axis} = {n} is not a size the net runs at "
                              f"({a.runs.text()}{'; ' + a.runs_by if a.runs_by else ''}); nearest: {near}")


def valid_sizes(graph: gs.Graph) -> tuple[ValidSize, ...]:
    """The pad-to-valid plan: every spatial axis whose lossless sizes are one progression m + k*n, and
    the outputs that follow it."""
    plans = []
    for a in admissible_sizes.admissible_sizes(graph):
        if a.role != "spatial":
            continue
        progressions = a.lossless.progressions() if a.lossless is not None else []
        if a.lossless is None or a.lossless.empty or len(progressions) != 1 or not a.complete:
            raise UnsupportedGraph(f"--pad-to-valid: {a.input} axis {a.axis} has no single progression of sizes "
                                   f"that lose nothing ({a.text()})")
        start, step = progressions[0].start, progressions[0].step
        if (start, step) == (1, 1):
            continue                                # every size is admissible: nothing to pad
        plans.append(ValidSize(a.input, a.axis, start, step, a.follows()))
    return tuple(plans)
