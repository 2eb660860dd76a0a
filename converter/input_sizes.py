"""Freeing and fixing input sizes: strip-sizes, fix-sizes, and the plans for pad-to-valid and --dense.

strip-sizes makes the chosen input dims symbolic, forgets shapes that were only true at the exported
size, and rewrites ops that bake sizes in (Reshape targets, Resize sizes) with the exported shapes as
reference; a dim that stays pinned (a Flatten/Gemm head, a Reshape that splits it, an op that fails
at the next admissible size) is an error naming the node. fix-sizes sets sizes and folds the shape
arithmetic that became constant.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
import onnx_graphsurgeon as gs

from converter import graph_io, inputs, pipeline, shapes, sizes
from converter.errors import BadArgument, UnsupportedGraph, first_line
from passes._driver import PassReport
from passes._registry import Options
from passes.pad_inputs_to_valid import ValidSize

SPATIAL_NAMES = {1: ["L"], 2: ["H", "W"], 3: ["D", "H", "W"]}


@dataclass
class SizesReport:
    freed: dict = field(default_factory=dict)        # input -> {axis: symbolic name}
    fixed: dict = field(default_factory=dict)        # input -> shape
    admissible: list = field(default_factory=list)   # sizes.AxisSizes of the freed spatial axes
    passes: list[PassReport] = field(default_factory=list)
    verification: object = None
    output: str | None = None

    def text(self) -> str:
        lines = []
        for name, dims in self.freed.items():
            lines.append(f"freed {name}: " + ", ".join(f"axis {a} -> {d}" for a, d in dims.items()))
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

    def as_dict(self) -> dict:
        return {"freed": self.freed, "fixed": self.fixed, "admissible": [a.as_dict() for a in self.admissible],
                "passes": [p.as_dict() for p in self.passes], "output": self.output,
                "verification": self.verification.as_dict() if self.verification else None}


def choose(model: onnx.ModelProto, names: list[str] | None, axes: list[int] | None) -> dict[str, list[int]]:
    """Input -> axes to free: by default the batch and every spatial axis of every image-like input."""
    specs = {s.name: s for s in inputs.input_specs(model)}
    for name in names or []:
        if name not in specs:
            raise BadArgument(f"--input {name}: not a graph input (inputs: {', '.join(specs) or 'none'})")
    chosen = {}
    for name, spec in specs.items():
        rank = len(spec.dims)
        if names and name not in names:
            continue
        if not names and (rank < 3 or not np.issubdtype(onnx.helper.tensor_dtype_to_np_dtype(spec.elem_type), np.floating)):
            continue
        wanted = axes if axes is not None else [0] + list(range(2, rank))
        bad = [a for a in wanted if not -rank <= a < rank]
        if bad:
            raise BadArgument(f"--axes {bad[0]}: out of range for input {name} of rank {rank}")
        chosen[name] = sorted({a % rank for a in wanted})
    if not chosen:
        raise BadArgument("no input to free (give --input NAME)")
    return chosen


def _names(chosen: dict[str, list[int]], model: onnx.ModelProto) -> dict[str, dict[int, str]]:
    specs = {s.name: s for s in inputs.input_specs(model)}
    prefix = len(chosen) > 1
    names = {}
    for name, axes in chosen.items():
        rank = len(specs[name].dims)
        spatial = SPATIAL_NAMES.get(rank - 2, [f"S{i}" for i in range(rank - 2)])
        names[name] = {}
        for a in axes:
            base = "N" if a == 0 else (spatial[a - 2] if a >= 2 else f"C{a}")
            names[name][a] = f"{name}_{base}" if prefix else base
    return names


def strip(model: onnx.ModelProto, names: list[str] | None = None, axes: list[int] | None = None, folder=None):
    """(model with the chosen sizes free, SizesReport); raises UnsupportedGraph for a pinned size."""
    chosen = choose(model, names, axes)
    graph = graph_io.to_graph(model, folder)
    shapes.annotate(graph)
    admissible = [a for a in sizes.admissible_sizes(graph) if a.axis in chosen.get(a.input, [])]
    for a in admissible:
        if a.minimum is None or a.step == 0:
            head = a.pinned_by.split(" ")[0] in sizes.HEADS
            raise UnsupportedGraph(f"cannot free {a.input} axis {a.axis}: {a.text()}"
                                   + ("; make the Flatten/Gemm head convolutional first (convert --target "
                                      "fully-convolutional)" if head else ""))
    static = tuple((n, tuple(t.shape)) for n, t in graph.tensors().items()
                   if t.shape is not None and all(isinstance(d, int) for d in t.shape))
    dim_names = _names(chosen, model)
    for t in graph.inputs:
        if t.name in dim_names:
            t.shape = [dim_names[t.name].get(i, d) for i, d in enumerate(t.shape)]
    for t in graph.tensors().values():
        if isinstance(t, gs.Variable) and t not in graph.inputs:
            t.shape = None
    shapes.annotate(graph)
    steps = [pipeline.Step(name, Options(static_shapes=static)) for name in ("free-reshape-sizes", "resize-sizes-to-scales")]
    reports = pipeline.run(graph, steps)
    for r in reports:
        if r.skipped:
            node, why = r.skipped[0]
            raise UnsupportedGraph(f"cannot free the sizes: '{node}' pins them ({why})")
    _declare_outputs(graph)
    freed = graph_io.to_model(graph, like=model)
    report = SizesReport(freed={n: dict(d) for n, d in dim_names.items()}, admissible=admissible, passes=reports)
    _probe_next_size(freed, admissible, model, folder)
    return freed, report


def _declare_outputs(graph: gs.Graph) -> None:
    """Graph outputs get their inferred shapes; dims inference cannot tell stay unnamed."""
    infos = shapes.infer(graph)
    for t in graph.outputs:
        vi = infos.get(t.name)
        dims = shapes.dims_of(vi) if vi is not None else None
        t.shape = [d if isinstance(d, int) else None for d in dims] if dims is not None else None


def _probe_next_size(freed: onnx.ModelProto, admissible, original: onnx.ModelProto, folder) -> None:
    """Run the freed model at the next admissible size; an op that still bakes a size fails there."""
    from converter import verify
    specs = inputs.input_specs(freed)
    grown = {}
    for spec in specs:
        base = {s.name: s.dims for s in inputs.input_specs(original)}[spec.name]
        dims = list(base)
        for a in admissible:
            if a.input == spec.name and isinstance(dims[a.axis], int):
                dims[a.axis] = a.next_admissible(dims[a.axis] + 1)
        grown[spec.name] = tuple(d if isinstance(d, int) and d > 0 else 1 for d in dims)
    try:
        session = verify.make_session(freed, verify.providers_for("cpu"), folder=folder)
        session.run(None, inputs.random_feeds(specs, grown, 0))
    except Exception as e:  # noqa: BLE001 - the node onnxruntime names is the one that pins the size
        raise UnsupportedGraph(f"the freed model does not run at {inputs_text(grown)}: {first_line(e, 240)}") from None


def inputs_text(shapes_: dict) -> str:
    return ", ".join(f"{k}={'x'.join(map(str, v))}" for k, v in shapes_.items())


def fix(model: onnx.ModelProto, wanted: dict[str, tuple[int, ...]], folder=None):
    """(model with the given input sizes and its shape arithmetic folded, SizesReport)."""
    specs = inputs.input_specs(model)
    if not wanted:
        raise BadArgument("fix-sizes needs --shape NAME=DIMS")
    inputs.check_overrides(specs, wanted)
    graph = graph_io.to_graph(model, folder)
    for t in graph.inputs:
        if t.name in wanted:
            t.shape = list(wanted[t.name])
    for t in graph.tensors().values():
        if isinstance(t, gs.Variable) and t not in graph.inputs:
            t.shape = None
    shapes.annotate(graph)
    reports = pipeline.run(graph, [pipeline.Step("fold-shape-computations", Options())])
    _declare_outputs(graph)
    fixed = graph_io.to_model(graph, like=model)
    del fixed.graph.value_info[:]
    fixed.graph.value_info.extend(shapes.value_infos(graph))
    return fixed, SizesReport(fixed={k: list(v) for k, v in wanted.items()}, passes=reports)


def valid_sizes(graph: gs.Graph) -> tuple[ValidSize, ...]:
    """The pad-to-valid plan: every spatial axis with admissible sizes, and the outputs that follow it."""
    plans = []
    for a in sizes.admissible_sizes(graph):
        if a.minimum is None:
            raise UnsupportedGraph(f"--pad-to-valid: {a.input} axis {a.axis} has {a.text()}")
        if a.step == 1 and a.minimum == 1:
            continue                                # every size is admissible: nothing to pad
        plans.append(ValidSize(a.input, a.axis, a.minimum, a.step, a.follows))
    return tuple(plans)
