"""Sizes checked on onnxruntime: what `sizes` claims is what it proved.

The size analysis (converter.admissible_sizes) is exact where it follows every node; where it stops at
one it cannot follow (pads computed by ops it does not read, a Reshape that splits the axis, ...) its
set only bounds the sizes from above. Either way, `sizes` then runs the model on onnxruntime at each
length 1..up_to of every spatial axis (the other axes at the analysis's reference sizes, zero inputs:
only whether it runs and the output shapes matter) within a time budget, and reports:

- the analysis's set, when it is complete and onnxruntime agrees at every size tried (ran exactly where
  it claims, with the output shapes it predicts): proven by the analysis, confirmed by the runs;
- otherwise the sizes that ran, 1..up_to only, and why nothing above is claimed (where the analysis
  stopped, or where it disagrees with onnxruntime).

A fixed-size export is checked through the model strip-sizes makes of it, its Resize sizes as the graph
has them (which is how the analysis reads them); an axis strip-sizes keeps fixed is not run at other
sizes.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import onnx

from onnxport.converter import input_specs, size_edits
from onnxport.converter.sizes.admissible_sizes import AxisSizes
from onnxport.converter.sizes.size_sets import Progression, SizeSet
from onnxport.converter.verification.sessions import make_session
from onnxport.errors import OnnxportError, first_line

UP_TO = 48                   # lengths 1..UP_TO per axis (the range users pick sizes from)
BUDGET_S = 10.0              # seconds of onnxruntime runs for the whole model
MAX_FEED_BYTES = 256 << 20   # inputs of one probe run: larger reference sizes (an export at 2^31-1) are not run


@dataclass(frozen=True)
class Check:
    """What onnxruntime did at lengths 1..up_to of one axis."""

    up_to: int                              # every length 1..up_to was run (fewer than asked: budget)
    ran: frozenset[int]                     # lengths where the model ran
    reference: dict                         # the input sizes the other axes were held at
    misshaped: tuple[int, ...] = ()         # ran, with output shapes other than the analysis predicts
    stopped: str = ""                       # why fewer lengths were run than asked

    def text(self) -> str:
        return f"checked on onnxruntime at 1..{self.up_to}" + (f" ({self.stopped})" if self.stopped else "")

    def to_dict(self) -> dict:
        return {"up_to": self.up_to, "ran": sorted(self.ran), "misshaped": list(self.misshaped),
                "stopped": self.stopped, "reference": self.reference}


def check(model: onnx.ModelProto, rows: list[AxisSizes], folder: Path | None = None, up_to: int = UP_TO,
          budget_s: float = BUDGET_S) -> list[AxisSizes]:
    """`rows` with each spatial axis's claim checked on onnxruntime at 1..up_to (see the module doc)."""
    spatial = [a for a in rows if a.role == "spatial" and a.runs is not None]
    if up_to < 1 or not spatial:
        return rows
    runner, why_not = _runner(model, spatial, folder)
    if runner is None:
        return [(_kept(a, why_not) if a.exported is not None else replace(a, note_check=why_not))
                if a in spatial else a for a in rows]
    reference = _reference(runner, spatial[0].reference)
    if reference is None:
        why = "not checked on onnxruntime: it runs at none of the reference sizes tried"
        return [replace(a, note_check=why) if a in spatial else a for a in rows]
    deadline = time.monotonic() + budget_s
    checked = {id(a): _check_axis(runner, a, reference, up_to, (deadline, budget_s)) for a in spatial
               if runner.frees(a)}
    return [_combined(a, checked[id(a)]) if id(a) in checked else _kept(a) if a in spatial else a for a in rows]


def _kept(a: AxisSizes, why: str = "") -> AxisSizes:
    """An axis the export fixes and strip-sizes keeps fixed (or cannot free at all): it runs at its
    exported size, nothing else is claimed (what the analysis finds for other sizes is said, as the reason)."""
    exported = SizeSet.of([Progression(a.exported, 0)])
    why = f"{why or 'strip-sizes keeps it fixed'}; the analysis: {a.text()}"
    return replace(a, runs=exported if a.exported in a.runs else SizeSet(), lossless=SizeSet(), bounded=why,
                   check=Check(0, frozenset(), a.reference))


def _reference(runner: "_Runner", held: dict) -> tuple[dict, dict] | None:
    """(input sizes, output shapes) the other axes are held at while one is run: the analysis's reference
    if the model runs there (a wrong analysis can pick one it does not), else the first of a few plain
    sizes for every free dim at which it does."""
    candidates = [{k: list(v) for k, v in held.items()}]
    for size in (32, 16, 64, 8):
        candidates.append({name: [d if runner.fixed(name, i) else (1 if i == 0 else size) for i, d in enumerate(v)]
                           for name, v in held.items()})
    for sizes in candidates:
        shapes = runner.shapes(sizes)
        if shapes is not None:
            return sizes, shapes
    return None


class _Runner:
    """One onnxruntime session of the model (or of its freed form) run at given input shapes."""

    def __init__(self, model: onnx.ModelProto, folder: Path | None, freed_axes: dict[str, set[int]] | None):
        self.session = make_session(model, ["CPUExecutionProvider"], folder=folder)
        self.specs = {s.name: s for s in input_specs.input_specs(model)}
        self.outputs = [o.name for o in model.graph.output]
        self.freed_axes = freed_axes

    def fixed(self, name: str, axis: int) -> bool:
        dims = self.specs[name].dims if name in self.specs else ()
        return axis < len(dims) and isinstance(dims[axis], int) and dims[axis] > 0

    def frees(self, a: AxisSizes) -> bool:
        return self.freed_axes is None or a.axis in self.freed_axes.get(a.input, set())

    def shapes(self, sizes: dict[str, list[int]]) -> dict[str, list[int]] | None:
        """Output shapes at these input sizes; None where onnxruntime refuses, or where the inputs alone
        would take more than MAX_FEED_BYTES."""
        dtypes = {name: np.dtype(onnx.helper.tensor_dtype_to_np_dtype(spec.elem_type))
                  for name, spec in self.specs.items()}
        if any(sizes.get(name) is None for name in self.specs) or \
                sum(int(np.prod(sizes[name], dtype=object)) * dtypes[name].itemsize for name in self.specs) > MAX_FEED_BYTES:
            return None
        feeds = {name: np.zeros(sizes[name], dtypes[name]) for name in self.specs}
        try:
            got = self.session.run(None, feeds)
        except Exception:  # noqa: BLE001 - onnxruntime refusing a size is the answer sought
            return None
        return {n: list(np.shape(v)) for n, v in zip(self.outputs, got)}


def _runner(model, spatial: list[AxisSizes], folder) -> tuple[_Runner | None, str]:
    fixed = any(a.exported is not None for a in spatial)
    try:
        if not fixed:
            return _Runner(model, folder, None), ""
        freed, report = size_edits.strip(model, folder=folder, sizes_to_scales=False)     # the analysis's reading
        return _Runner(freed, folder, {n: set(d) for n, d in report.freed.items()}), ""
    except OnnxportError as e:
        return None, f"strip-sizes cannot free it ({e})"
    except Exception as e:  # noqa: BLE001 - a model onnxruntime cannot load is checked nowhere
        return None, f"not checked on onnxruntime: it does not load there ({first_line(e, 160)})"


def _check_axis(runner: _Runner, a: AxisSizes, held: tuple[dict, dict], up_to: int, budget: tuple) -> Check:
    reference, base = held
    deadline, seconds = budget
    ran, misshaped, stopped, last = set(), [], "", 0
    for n in range(1, up_to + 1):
        if time.monotonic() > deadline:
            stopped = f"the {seconds:g} s budget ended; --check-up-to sets how far"
            break
        sizes = {k: list(v) for k, v in reference.items()}
        sizes[a.input][a.axis] = n
        got = runner.shapes(sizes)
        last = n
        if got is None:
            continue
        ran.add(n)
        predicted = a.output_shapes(n, base) if reference == a.reference and a.complete else None
        if predicted is not None and any(got.get(k) != v for k, v in predicted.items()):
            misshaped.append(n)
    return Check(last, frozenset(ran), reference, tuple(misshaped), stopped)


def _combined(a: AxisSizes, c: Check) -> AxisSizes:
    """The analysis's sets where it is complete and the runs agree; else the sizes that ran, up to up_to."""
    if c.up_to == 0:                    # the budget ended before this axis: as unchecked as with --check-up-to 0
        return replace(a, note_check=f"not checked on onnxruntime ({c.stopped})")
    claimed = {n for n in range(1, c.up_to + 1) if n in a.runs}
    if a.complete and claimed == set(c.ran) and not c.misshaped:
        return replace(a, check=c)
    if not a.complete:
        why = f"unknown above {c.up_to}: not followed past {a.note}"
    elif c.misshaped:
        why = f"unknown above {c.up_to}: the output shapes at {c.misshaped[0]} are not the ones the analysis predicts"
    else:
        differ = sorted(claimed ^ set(c.ran))[0]
        why = (f"unknown above {c.up_to}: the analysis ({a.runs.text()}) and onnxruntime disagree at {differ} "
               f"({'it does not run' if differ in claimed else 'it runs'} there)")
    ran = SizeSet.of([Progression(n, 0) for n in sorted(c.ran)])
    lossless = SizeSet.of([Progression(n, 0) for n in sorted(c.ran) if a.complete and n in a.lossless])
    return replace(a, runs=ran, lossless=lossless, check=c, bounded=why)
