"""Which input sizes verification runs at, and why.

Dims fixed in either model take that size (the first model's where both fix it). A dim symbolic in both
takes sizes from its admissible set (converter.admissible_sizes: where the net runs and its joins match, the
intersection of both models'), smallest first from MIN_PREFERRED, different per dim within a run (an
axis mix-up shows) and per run; the batch takes 1, 2, 3. Where the analysis cannot say, fixed lists
are tried until the first model runs. Each run must fit a memory budget, estimated from the activation
sizes shape inference gives (scaled by the input volume for the later runs); a run over it falls back
to the smallest admissible sizes.

Two checks cover dims the second model frees and the first fixes (strip-sizes): the batch is run at 2
against two batch-1 runs of the first model stacked (when the net keeps samples apart), and each freed
spatial axis at its next two admissible sizes, where the output shapes must be the ones the size
analysis predicts.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import onnx

from onnxport.converter import admissible_sizes, batch_independence, graph_io, input_specs, shape_inference
from onnxport.converter.input_specs import InputSpec

BASE_SIZES = (16, 24, 32, 8, 12, 20, 28, 40, 48, 5, 6, 7, 9, 10, 11, 13, 15, 17, 3, 4, 2, 1)
BATCH_SIZES = (1, 2, 3)
MIN_PREFERRED = 8              # smaller lengths are mostly border: start the admissible sizes here
DEFAULT_BUDGET = 1 << 30       # bytes of activations per run


@dataclass(frozen=True)
class Sizes:
    shapes: dict
    why: str


@dataclass
class Plan:
    runs: list[list[Sizes]] = field(default_factory=list)        # per run: alternatives, in order
    batch_check: tuple[str, Sizes] | None = None                 # (input, batch-2 sizes) B frees
    batch_skipped: str = ""                                      # why the batch-2 check cannot run
    shape_checks: list[tuple[Sizes, dict]] = field(default_factory=list)    # sizes, predicted output shapes

    @property
    def first(self) -> dict:
        return self.runs[0][0].shapes


def dim_key(spec: InputSpec, axis: int) -> str:
    """How a symbolic dim is named across inputs: its dim name, else "input:axis"."""
    d = spec.dims[axis]
    return d if isinstance(d, str) else f"{spec.name}:{axis}"


def merged_specs(a: list[InputSpec], b: list[InputSpec] | None) -> list[InputSpec]:
    """A's inputs, each dim fixed where either model fixes it (A's size first)."""
    if b is None:
        return a
    by_name = {s.name: s for s in b}
    merged = []
    for s in a:
        other = by_name.get(s.name)
        dims = tuple(d if _fixed(d) or other is None or len(other.dims) != len(s.dims) or not _fixed(other.dims[i])
                     else other.dims[i] for i, d in enumerate(s.dims))
        merged.append(InputSpec(s.name, s.elem_type, dims))
    return merged


def _fixed(d) -> bool:
    return isinstance(d, int) and d > 0


def plan(a: onnx.ModelProto, b: onnx.ModelProto | None = None, overrides: dict | None = None, runs: int = 3,
         budget: int = DEFAULT_BUDGET, folders: tuple = (None, None), lossless: bool = False) -> Plan:
    """The runs (and checks of freed dims) for comparing b with a; lossless: sizes only from the sets
    where no layer drops a border sample (a dense or pad-to-valid conversion agrees only there)."""
    overrides = overrides or {}
    specs_a = input_specs.input_specs(a)
    specs_b = input_specs.input_specs(b) if b is not None else None
    specs = merged_specs(specs_a, specs_b)
    symbolic = [(s, i) for s in specs if s.name not in overrides for i, d in enumerate(s.dims) if not _fixed(d)]
    freed = _freed(specs_a, specs_b, overrides)
    graph_a = graph_io.to_graph(a, folders[0]) if symbolic or freed else None
    analysis = admissible_sizes.admissible_sizes(graph_a) if graph_a is not None else []
    hints = _hints(analysis, specs_a, symbolic, lossless)
    if symbolic and b is not None and any(not _fixed(d) for s in specs_b for d in s.dims):
        for key, other in _hints(admissible_sizes.admissible_sizes(graph_io.to_graph(b, folders[1])), specs_b, symbolic,
                                 lossless).items():
            hints[key] = hints[key].intersect(other) if key in hints else other
    result = Plan()
    estimate = _Estimate(graph_a if graph_a is not None else graph_io.to_graph(a, folders[0]), budget)
    for r in range(max(runs, len(BASE_SIZES)) if symbolic else runs):
        result.runs.append(estimate.fit(_candidates(specs, overrides, symbolic, hints, r), specs, overrides,
                                        symbolic, hints))
    if freed:
        _freed_checks(result, graph_a, analysis, specs_a, freed)
    return result


def _freed(specs_a, specs_b, overrides) -> list[tuple[str, int]]:
    """(input, axis) that A fixes and B leaves symbolic."""
    if specs_b is None:
        return []
    by_name = {s.name: s for s in specs_b}
    return [(s.name, i) for s in specs_a if s.name in by_name and s.name not in overrides
            and len(by_name[s.name].dims) == len(s.dims)
            for i, d in enumerate(s.dims) if _fixed(d) and not _fixed(by_name[s.name].dims[i])]


def _hints(analysis: list[admissible_sizes.AxisSizes], specs: list[InputSpec], symbolic, lossless: bool) -> dict:
    by_name = {s.name: s for s in specs}
    wanted = {dim_key(s, i) for s, i in symbolic}
    hints = {}
    for a in analysis:
        spec = by_name.get(a.input)
        admitted = a.lossless if lossless else a.runs
        if spec is None or admitted is None or admitted.empty or a.role != "spatial":
            continue
        key = dim_key(spec, a.axis)
        if key in wanted:
            hints[key] = hints[key].intersect(admitted) if key in hints else admitted
    return hints


def _members(hint, count: int = 3) -> list[int]:
    found = hint.smallest(count, MIN_PREFERRED)
    return found or hint.smallest(count)


def _candidates(specs, overrides, symbolic, hints, run: int) -> list[Sizes]:
    keys = list(dict.fromkeys(dim_key(s, i) for s, i in symbolic))
    batch = {dim_key(s, i) for s, i in symbolic if i == 0}
    spatial = [k for k in keys if k not in batch]
    alternatives = []
    for spread in ((8, 0) if len(spatial) > 1 else (0,)):
        values, why = {}, []
        for i, k in enumerate(spatial):
            if k in hints and _members(hints[k]):
                members = _members(hints[k])
                values[k] = members[(run + i) % len(members)]
                why.append(f"{k} from {hints[k].text()}")
            else:
                values[k] = BASE_SIZES[run] + spread * i
        values.update({k: BATCH_SIZES[run % len(BATCH_SIZES)] for k in batch})
        reason = "; ".join(why) if why else ("fixed sizes" if not keys else "sizes tried in turn")
        alternatives.append(Sizes(_assign(specs, overrides, values), reason))
        if all(k in hints for k in spatial):
            break
    return alternatives


def _assign(specs, overrides, values) -> dict:
    found = {}
    for s in specs:
        if s.name in overrides:
            found[s.name] = tuple(overrides[s.name])
        else:
            found[s.name] = tuple(d if _fixed(d) else values[dim_key(s, i)] for i, d in enumerate(s.dims))
    return found


class _Estimate:
    """Activation bytes at given input sizes: shape inference once, then scaled by the input volume."""

    def __init__(self, graph, budget: int):
        self.graph, self.budget = graph, budget
        self._reference: tuple[int, int] | None = None

    def bytes(self, shapes: dict) -> int | None:
        volume = sum(math.prod(v) for v in shapes.values())
        if self._reference is None:
            infos = shape_inference.infer(self.graph, shapes)
            total = 0
            for vi in infos.values():
                dims = shape_inference.dims_of(vi)
                if dims and all(isinstance(d, int) for d in dims):
                    itemsize = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type)).itemsize
                    total += math.prod(dims) * itemsize
            self._reference = (total, max(volume, 1))
        total, reference_volume = self._reference
        return total * volume // reference_volume

    def fit(self, alternatives: list[Sizes], specs, overrides, symbolic, hints) -> list[Sizes]:
        """The alternatives that fit the budget; the smallest admissible sizes where none does."""
        fitting = [s for s in alternatives if self.bytes(s.shapes) <= self.budget]
        if fitting or not alternatives:
            return fitting
        smallest = {dim_key(s, i): (1 if i == 0 else (hints[dim_key(s, i)].smallest(1) or [1])[0]
                                    if dim_key(s, i) in hints else 1) for s, i in symbolic}
        over = self.bytes(_assign(specs, overrides, smallest)) > self.budget
        why = "the smallest admissible sizes (larger ones exceed the memory budget" + \
              (", and so do these" if over else "") + f": {self.budget / 2**20:.0f} MiB)"
        return [Sizes(_assign(specs, overrides, smallest), why)]


def _freed_checks(result: Plan, graph_a, analysis: list[admissible_sizes.AxisSizes], specs_a, freed) -> None:
    fixed = {s.name: tuple(s.dims) for s in specs_a if all(_fixed(d) for d in s.dims)}
    if len(fixed) != len(specs_a):
        return
    static = admissible_sizes.static_shapes(graph_a, {k: list(v) for k, v in fixed.items()}) or {}
    for name, axis in freed:
        if axis == 0:
            x = next(t for t in graph_a.inputs if t.name == name)
            why = batch_independence.coupling(graph_a, static, x)
            doubled = {**fixed, name: (2,) + fixed[name][1:]}
            if why is None:
                result.batch_check = (name, Sizes(doubled, "batch 2 against two batch-1 runs stacked"))
            else:
                result.batch_skipped = f"batch 2 not checked: {why}"
    outputs = {t.name: static[t.name] for t in graph_a.outputs if t.name in static}
    for a in analysis:
        if (a.input, a.axis) not in freed or a.role != "spatial" or a.runs is None or not a.complete:
            continue
        for n in a.runs.smallest(2, a.exported + 1):
            predicted = a.output_shapes(n, outputs)
            shape = list(fixed[a.input])
            shape[a.axis] = n
            result.shape_checks.append((Sizes({**fixed, a.input: tuple(shape)},
                                              f"{a.input} axis {a.axis} at {n}, next admissible: output shapes "
                                              f"as the size analysis predicts"), predicted))
