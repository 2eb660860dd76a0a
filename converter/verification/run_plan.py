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

from onnxport.converter import input_specs, shape_inference
from onnxport.converter.files import graph_io
from onnxport.converter.sizes import admissible_sizes, batch_independence
from onnxport.converter.input_specs import InputSpec

# Where no analysis proves a set: multiples of the usual total strides first (a net with four or five
# stride-2 levels, windowed attention), then other lengths, each dim the same in the first tries (a net
# that wants multiples of 32 on every axis runs at none of them otherwise), then mixed.
UNIFORM_SIZES = (32, 16, 64, 48, 8, 24, 96, 128, 40, 12, 20, 5, 1)
BASE_SIZES = (16, 24, 32, 8, 12, 20, 28, 40, 48, 5, 6, 7, 9, 10, 11, 13, 15, 17, 3, 4, 2, 1)
BATCH_SIZES = (1, 2, 3)
BATCH_CHECK = "runs stacked"        # the end of a batch check's why: "batch 2 against two batch-1 runs stacked"
MIN_PREFERRED = 8              # smaller lengths are mostly border: start the admissible sizes here
EXPORTED_SIZES = "onnxport.exported_sizes"     # metadata strip-sizes leaves: the sizes it was exported at
DEFAULT_BUDGET = 1 << 30       # bytes of activations per run


@dataclass(frozen=True)
class Sizes:
    shapes: dict
    why: str
    checks: tuple = ()             # the freed dims this run checks: (input, axis) pairs (batch: axis 0)


@dataclass
class Plan:
    runs: list[list[Sizes]] = field(default_factory=list)        # per run: alternatives, in order
    batch_check: tuple[tuple[str, ...], Sizes] | None = None     # (inputs, batch-2 sizes) B frees the batch of
    batch_skipped: str = ""                                      # why the batch-2 check cannot run
    shape_checks: list[tuple[Sizes, dict]] = field(default_factory=list)    # sizes, predicted output shapes
    over_budget: str = ""          # why even the smallest sizes certainly exceed the memory budget (one line)

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
        other = _hints(admissible_sizes.admissible_sizes(graph_io.to_graph(b, folders[1])), specs_b, symbolic, lossless)
        hints = hints.joined(other)
    result = Plan()
    estimate = _Estimate(graph_a if graph_a is not None else graph_io.to_graph(a, folders[0]), budget)
    recorded = _recorded(a, specs, overrides) or (_recorded(b, specs, overrides) if b is not None else None)
    first = [Sizes(recorded, f"the sizes it was exported at ({EXPORTED_SIZES})")] if recorded and symbolic else []
    steps = len(BASE_SIZES) + len(UNIFORM_SIZES) if symbolic else 1
    for r in range(runs):
        ladder = (first if r == 0 else []) + [_candidates(specs, overrides, symbolic, hints, r, step)
                                              for step in range(steps)]
        ladder = list({tuple(sorted(c.shapes.items())): c for c in ladder}.values())
        result.runs.append(estimate.fit(ladder, specs, overrides, symbolic, hints.proven))
    if estimate.fell_back:
        result.over_budget = estimate.over_budget(estimate.fell_back)
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


@dataclass
class Hints:
    """Per symbolic dim key: the sizes an analysis proved (complete), those it bounds (it stopped at a
    node: sizes outside certainly fail, sizes inside may), and the dims of latent-like axes (outputs
    GROWTH times longer: a generator's z, tried small first)."""

    proven: dict = field(default_factory=dict)
    bounds: dict = field(default_factory=dict)
    small: set = field(default_factory=set)

    def joined(self, other: "Hints") -> "Hints":
        def meet(x: dict, y: dict) -> dict:
            return {k: x[k].intersect(y[k]) if k in x and k in y else x.get(k, y.get(k)) for k in {*x, *y}}
        proven = meet(self.proven, other.proven)
        bounds = {k: v for k, v in meet(self.bounds, other.bounds).items() if k not in proven}
        return Hints(proven, bounds, self.small | other.small)


def _hints(analysis: list[admissible_sizes.AxisSizes], specs: list[InputSpec], symbolic, lossless: bool) -> Hints:
    by_name = {s.name: s for s in specs}
    wanted = {dim_key(s, i) for s, i in symbolic}
    hints = Hints()
    for a in analysis:
        spec = by_name.get(a.input)
        admitted = a.lossless if lossless else a.runs
        if spec is None or admitted is None or admitted.empty or a.role != "spatial":
            continue
        key = dim_key(spec, a.axis)
        if key not in wanted:
            continue
        found = hints.proven if a.complete else hints.bounds
        found[key] = found[key].intersect(admitted) if key in found else admitted
        if a.complete and _grows(a):
            hints.small.add(key)
    for key in hints.proven:
        hints.bounds.pop(key, None)
    return hints


def _grows(a: admissible_sizes.AxisSizes) -> bool:
    """The outputs the axis reaches are GROWTH times longer than it (a generator from a latent)."""
    return a.grows(a.runs.next_at_least(MIN_PREFERRED))


def _members(hint, count: int = 3, small: bool = False) -> list[int]:
    found = hint.smallest(count, 1 if small else MIN_PREFERRED)
    return found or hint.smallest(count)


def _recorded(model: onnx.ModelProto, specs: list[InputSpec], overrides: dict) -> dict | None:
    """The sizes strip-sizes recorded (the export's), where they fit the inputs as declared now."""
    text = next((p.value for p in model.metadata_props if p.key == EXPORTED_SIZES), None)
    if text is None:
        return None
    try:
        sizes = {name: tuple(int(v) for v in dims.split("x"))
                 for name, dims in (part.split("=") for part in text.split(";") if part)}
    except ValueError:
        return None
    found = {}
    for s in specs:
        shape = overrides.get(s.name, sizes.get(s.name))
        if shape is None or len(shape) != len(s.dims) or any(_fixed(d) and d != v for d, v in zip(s.dims, shape)):
            return None
        found[s.name] = tuple(shape)
    return found


def _candidates(specs, overrides, symbolic, hints: Hints, run: int, step: int) -> Sizes:
    """Run `run`'s step-th alternative: proven dims take members of their set (different per dim and per
    run), the others the (run + step)-th length of the ladder (_unproven); the batch is 1, 2, 3 by run."""
    keys = list(dict.fromkeys(dim_key(s, i) for s, i in symbolic))
    batch = {dim_key(s, i) for s, i in symbolic if i == 0}
    spatial = [k for k in keys if k not in batch]
    proven = {k: _members(hints.proven[k], small=k in hints.small) for k in spatial if k in hints.proven}
    proven = {k: v for k, v in proven.items() if v}
    values, why = {}, []
    for i, k in enumerate(spatial):
        if k in proven:
            values[k] = proven[k][(run + i + step) % len(proven[k])]
            why.append(f"{k} from {hints.proven[k].text()}")
        else:
            values[k] = _unproven(hints.bounds.get(k), run + step, i)
    values.update({k: BATCH_SIZES[run % len(BATCH_SIZES)] for k in batch})
    unproven = [k for k in spatial if k not in proven]
    if unproven:
        why.append(f"{', '.join(unproven)} tried in turn (no proven set"
                   + (": the analysis stops at a node" if any(k in hints.bounds for k in unproven) else "") + ")")
    reason = "; ".join(why) if why else ("fixed sizes" if not keys else "batch sizes in turn")
    return Sizes(_assign(specs, overrides, values), reason)


def _unproven(bound, run: int, i: int) -> int:
    """The run-th length for a dim no analysis proved: the same for every dim at first (UNIFORM_SIZES),
    then mixed per dim; a length outside the analysis's bound is passed over (it certainly fails)."""
    order = list(UNIFORM_SIZES) + [BASE_SIZES[(j + 8 * i) % len(BASE_SIZES)] for j in range(len(BASE_SIZES))]
    inside = [n for n in order if bound is None or n in bound] or order
    return inside[run % len(inside)]


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
        self.fell_back: dict | None = None          # the sizes taken although they exceed the budget

    def bytes(self, shapes: dict) -> int | None:
        volume = sum(math.prod(v) for v in shapes.values())
        if self._reference is None:
            self._reference = (sum(self._sizes(shapes).values()), max(volume, 1))
        total, reference_volume = self._reference
        return total * volume // reference_volume

    def _sizes(self, shapes: dict) -> dict[str, int]:
        """Bytes of every tensor whose shape inference fixes at these input sizes."""
        found = {}
        for name, vi in shape_inference.infer(self.graph, shapes).items():
            dims = shape_inference.dims_of(vi)
            if dims and all(isinstance(d, int) for d in dims):
                itemsize = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(vi.type.tensor_type.elem_type)).itemsize
                found[name] = math.prod(dims) * itemsize
        return found

    def over_budget(self, shapes: dict) -> str:
        """Why a run at these sizes certainly exceeds the budget (one tensor alone is larger: a ConstantOfShape
        of 750M elements took 3 GB under --max-memory 64M), in one line with the flag; "" otherwise."""
        sizes = self._sizes(shapes)
        name = max(sizes, key=sizes.get, default=None)
        if name is None or sizes[name] <= self.budget:
            return ""
        need = 2 * sizes[name]
        flag = f"{-(-need // 2**30)}G" if need >= 2**30 else f"{-(-need // 2**20)}M"
        return (f"verification would exceed --max-memory ({self.budget / 2**20:.0f} MiB): at "
                f"{input_specs.sizes_text(shapes)} the tensor "
                f"'{name}' alone takes {sizes[name] / 2**20:.0f} MiB; give more with --max-memory {flag}")

    def fit(self, alternatives: list[Sizes], specs, overrides, symbolic, hints) -> list[Sizes]:
        """The alternatives that fit the budget; the smallest admissible sizes where none does."""
        fitting = [s for s in alternatives if self.bytes(s.shapes) <= self.budget]
        if fitting or not alternatives:
            return fitting
        smallest = {dim_key(s, i): (1 if i == 0 else (hints[dim_key(s, i)].smallest(1) or [1])[0]
                                    if dim_key(s, i) in hints else 1) for s, i in symbolic}
        over = self.bytes(_assign(specs, overrides, smallest)) > self.budget
        self.fell_back = self.fell_back or _assign(specs, overrides, smallest)
        why = "the smallest admissible sizes (larger ones exceed the memory budget" + \
              (", and so do these" if over else "") + f": {self.budget / 2**20:.0f} MiB)"
        return [Sizes(_assign(specs, overrides, smallest), why)]


def _freed_checks(result: Plan, graph_a, analysis: list[admissible_sizes.AxisSizes], specs_a, freed) -> None:
    fixed = {s.name: tuple(s.dims) for s in specs_a if all(_fixed(d) for d in s.dims)}
    if len(fixed) != len(specs_a):
        return
    static = admissible_sizes.static_shapes(graph_a, {k: list(v) for k, v in fixed.items()}) or {}
    batched = [name for name, axis in freed if axis == 0]          # every input whose batch is freed
    if batched:
        images = [t for t in graph_a.inputs if t.name in batched and len(fixed[t.name]) >= 3]
        why = next((w for w in (batch_independence.coupling(graph_a, static, x) for x in images) if w), None)
        doubled = {**fixed, **{name: (2 * fixed[name][0],) + fixed[name][1:] for name in batched}}
        if why is None:         # the halves run at the batch the original is fixed at (1, or what it was exported at)
            halves = sorted({fixed[name][0] for name in batched})
            text = "/".join(map(str, halves))
            result.batch_check = (tuple(batched), Sizes(doubled, f"batch {'/'.join(str(2 * b) for b in halves)} "
                                                        f"against two batch-{text} {BATCH_CHECK}",
                                                        tuple((name, 0) for name in batched)))
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
                                              f"as the size analysis predicts", ((a.input, a.axis),)), predicted))
