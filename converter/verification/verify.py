"""Numerical equivalence of two models on onnxruntime: same seeded inputs, every output compared.

The orchestration: where each model runs is verification.sessions (the provider that really loads,
optimizations off; the result names it), how two outputs compare is verification.comparison. The sizes
come from run_plan (admissible sizes, smallest first, within a memory budget; each run says why).
Outputs are paired by name (by position only when the names differ, and then the result says so).
Where the second model frees a dim the first fixes, its batch 2 is checked against two batch-1 runs of
the first stacked (2b against two runs at b where the first is fixed at batch b), and each freed axis
runs at its next admissible sizes with the output shapes the size analysis predicts. On a mismatch the first intermediate tensor, shared by name and in the first model's
order, that already differs is reported.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import onnx

from onnxport.converter import input_specs as inputs_mod, progress
from onnxport.converter.report_header import header
from onnxport.converter.verification import run_plan
from onnxport.converter.verification.comparison import Alignment, OutputCheck, Tolerance, compare
from onnxport.converter.verification.sessions import (PROVIDERS, ReferenceEvaluatorRunner, check_reference_cost,
                                                      device_name, lacks_kernel, load_session, make_session,
                                                      other_providers, providers_for, reference_runner,
                                                      runtime_session)
from onnxport.errors import BadArgument, BadInput, one_line


@dataclass
class RunCheck:
    shapes: dict[str, list[int]]
    outputs: list[OutputCheck] = field(default_factory=list)
    failure: str = ""
    why: str = ""                       # why these sizes (converter.run_plan)
    checks: tuple = ()                  # the freed dims it checks, (input, axis) (run_plan.Sizes.checks)

    @property
    def ok(self) -> bool:
        return not self.failure and bool(self.outputs) and all(o.ok for o in self.outputs)


@dataclass
class VerifyResult:
    ok: bool
    provider: str
    atol: float
    rtol: float
    runs: list[RunCheck]
    divergence: str | None = None
    notes: list[str] = field(default_factory=list)     # pairing by position, checks skipped and why
    models: list[str] = field(default_factory=list)    # what was compared, as the user named them (pages say it)

    @property
    def worst(self) -> tuple[RunCheck, OutputCheck] | None:
        pairs = [(r, o) for r in self.runs for o in r.outputs]
        return max(pairs, key=lambda p: p[1].ratio) if pairs else None

    def headline(self) -> str:
        """The verdict in a clause that can stand inside a longer line (convert's summary)."""
        if not self.ok or self.worst is None:
            return self.summary()
        return f"equivalent on {len(self.runs)} run(s), worst max|a-b| = {self.worst[1].max_abs_error:.3g}"

    def summary(self) -> str:
        failed = next((r for r in self.runs if not r.ok), None)
        if failed is not None:
            where = inputs_mod.sizes_text(failed.shapes)
            if failed.failure:
                return f"mismatch at {where}: {failed.failure}"
            bad = max((o for o in failed.outputs if not o.ok), key=lambda o: o.ratio)
            at = f" at index {tuple(bad.worst_at)}" if bad.worst_at else ""
            text = (f"mismatch: output '{bad.name}' at {where}: max|a-b| = {bad.max_abs_error:.3g}{at} > "
                    f"atol + rtol*max|a| = {bad.bound:.3g}{' (' + bad.note + ')' if bad.note else ''}")
            if self.divergence:
                text += f"; first diverging intermediate: '{self.divergence}'"
            return text + f" [{self.provider}]"
        worst = self.worst
        sizes = "; ".join(inputs_mod.sizes_text(r.shapes) for r in self.runs)
        checks = [r for r in self.runs if r.why.endswith(run_plan.BATCH_CHECK)], [r for r in self.runs if SHAPE_ONLY in
                                                                          [o.note for o in r.outputs]]
        notes = "".join(f"; {n}" for n in [r.why.replace(" against ", " equals ") for r in checks[0]] +
                        ([f"{len(checks[1])} run(s) at freed sizes with the predicted output shapes"] if checks[1] else [])
                        + self.notes)
        return (f"equivalent on {len(self.runs)} run(s) ({sizes}); worst max|a-b| = {worst[1].max_abs_error:.3g} "
                f"on '{worst[1].name}' (bound {worst[1].bound:.3g}){notes} [{self.provider}]")

    def to_dict(self) -> dict:
        return {**header(), **asdict(self), "summary": self.summary()}


def verify(a: onnx.ModelProto, b: onnx.ModelProto, *, shapes: dict | None = None, atol: float = 1e-4,
           rtol: float = 1e-4, provider: str = "auto", runs: int = 3, seed: int = 0,
           alignment: Alignment = Alignment(), against_provider: str | None = None,
           folders: tuple = (None, None), max_memory: int = run_plan.DEFAULT_BUDGET, per_output: tuple = (),
           saved_inputs: list | None = None, expected: list | None = None, runtime: str | None = None) -> VerifyResult:
    """Run both models on the same random inputs at `runs` sizes and compare every output.

    against_provider runs the second model on another provider (a cross-provider check: the same model
    on CUDA and on CPU catches runtime bugs); the two must really differ, or this is bad input. folders:
    where each model's external data lives (None: it has none). max_memory: bytes of activations a run
    may take (converter.run_plan). per_output: (name, atol, rtol) for outputs with their own tolerance.
    saved_inputs: feed sets to run instead of random ones; expected: the outputs the framework computed
    for them (then b, or a alone, is compared with those). runtime: run b on that runtime
    (converter.runtimes: openvino, opencv, tract, mnn), in a process of its own, a on onnxruntime."""
    if runs < 1:
        raise BadArgument(f"--runs {runs}: must be at least 1")
    tolerance = Tolerance(atol, rtol, tuple(per_output))
    if not all(0 <= t < float("inf") for t in [atol, rtol] + [v for _, *vs in per_output for v in vs]):
        raise BadArgument(f"tolerances must be finite numbers >= 0 (atol {atol}, rtol {rtol})")
    if saved_inputs is not None or expected is not None:
        return _verify_saved(a, b, saved_inputs, expected, tolerance, provider, folders, alignment)
    specs = inputs_mod.input_specs(a)
    overrides = shapes or {}
    inputs_mod.check_overrides(specs, overrides)
    if {s.name for s in specs} != {s.name for s in inputs_mod.input_specs(b)}:
        raise BadInput("the two models have different graph inputs")
    plist = providers_for(provider)
    plist_b = plist if against_provider is None else other_providers(plist, against_provider)
    if against_provider is None:
        runner_a, first_on = reference_runner(a, plist, folders[0])
    else:                   # no reference fallback: the point is what this provider computes
        runner_a = load_session(a, plist, "the model", folders[0])
        first_on = runner_a.get_providers()[0]
    try:
        session_b = load_session(b, plist_b, "the second model", folders[1]) if runtime is None else \
            runtime_session(runtime, b, folders[1], max_memory)
    except BadInput as e:
        return VerifyResult(False, first_on, atol, rtol, [RunCheck({}, failure=str(e))])
    on_b = session_b.get_providers()[0]
    if on_b == PROVIDERS["cuda"]:
        on_b = f"{on_b} on {device_name(on_b)}"
    pairing = _Pairing(a, b)
    planned = run_plan.plan(a, b, overrides, runs, max_memory, folders, alignment.lossless)
    if planned.over_budget:
        raise BadInput(planned.over_budget)

    def collect(runner, wanted: int):
        checks, tried, error = [], [], ""
        for alternatives in planned.runs:
            before = len(checks)
            for sizes_try in alternatives:
                progress.say(f"verifying at {inputs_mod.sizes_text(sizes_try.shapes)} (run {len(checks) + 1} of {runs})")
                feeds = inputs_mod.random_feeds(specs, sizes_try.shapes, seed + len(checks))
                tried.append(sizes_try)
                try:
                    ref = runner.run(None, feeds)
                except Exception as e:  # noqa: BLE001 - the original does not run at this size: try another
                    error = one_line(e)
                    continue
                checks.append(_check_run(session_b, ref, pairing, feeds, sizes_try, tolerance, alignment))
                break
            if len(checks) == wanted or (checks and not checks[-1].ok) or len(checks) == before:
                break               # done, a mismatch, or a whole ladder that did not run (nor will the next)
        return checks, tried, error

    bounded = isinstance(runner_a, ReferenceEvaluatorRunner)
    if bounded:
        check_reference_cost(a, planned.first, folders[0])
    checks, tried, last_error = collect(runner_a, 1 if bounded else runs)
    if not checks and first_on == on_b and lacks_kernel(last_error):   # loads, but a kernel is missing at run
        check_reference_cost(a, planned.first, folders[0])
        fallback = ReferenceEvaluatorRunner.try_load(a, folders[0])
        if fallback is not None:
            runner_a, checks = fallback, collect(fallback, 1)[0]
            first_on = f"onnx.reference for the first model, one run (onnxruntime: {last_error[:100]})"
    if not checks:
        hint = _shape_hint(specs)
        raise BadInput(f"the first model does not run at any of {len(tried)} sizes tried ({_tried_text(tried)}; "
                       f"onnxruntime: {last_error[:200]}); "
                       + (f"give sizes it runs at with --shape {hint}" if hint else "its inputs are fixed at those sizes"))
    if all(c.ok for c in checks) and against_provider is None:
        checks += _freed_checks(planned, runner_a, session_b, pairing, specs, seed, tolerance, alignment)
    used = f"{first_on} vs {on_b}" if against_provider else on_b + ("" if first_on == on_b else f"; {first_on}")
    ok = all(c.ok for c in checks)
    result = VerifyResult(ok, used, atol, rtol, checks, notes=pairing.notes +
                          ([planned.batch_skipped] if planned.batch_skipped else []))
    failed = next((c for c in checks if not c.ok), None)
    if runtime is None and failed is not None and not failed.failure and failed.outputs and \
            all(o.note != SHAPE_ONLY for o in failed.outputs):
        feeds = inputs_mod.random_feeds(specs, failed.shapes, seed + checks.index(failed))
        result.divergence = first_divergence(a, b, feeds, plist, atol, rtol, plist_b, folders)
    return result


def _tried_text(tried: list) -> str:
    """The sizes tried, briefly: the first, the last, and why they were chosen."""
    shown = inputs_mod.sizes_text(tried[0].shapes) + (f" ... {inputs_mod.sizes_text(tried[-1].shapes)}" if len(tried) > 1 else "")
    reasons = "; ".join(dict.fromkeys(t.why for t in tried))
    return f"{shown}: {reasons}"


def _shape_hint(specs) -> str | None:
    """NAME=DIMS for the first input with free dims, as a template: its fixed dims kept, the batch 1, each
    free dim named for the user to fill in; None when every dim is fixed."""
    for s in specs:
        if any(not (isinstance(d, int) and d > 0) for d in s.dims):
            dims = "x".join(str(d) if isinstance(d, int) and d > 0 else "1" if i == 0 else
                            (d if isinstance(d, str) and d.isidentifier() and len(d) <= 8 else f"L{i}")
                            for i, d in enumerate(s.dims))
            return f"{s.name}={dims}"
    return None


SHAPE_ONLY = "shape only: the first model does not run at this size"


class _Pairing:
    """Which output of the second model is compared with which of the first: by name, else by position."""

    def __init__(self, a: onnx.ModelProto, b: onnx.ModelProto):
        self.names_a = [o.name for o in a.graph.output]
        names_b = [o.name for o in b.graph.output]
        self.notes = []
        if sorted(self.names_a) == sorted(names_b):
            self.order = [names_b.index(n) for n in self.names_a]
        else:
            self.order = list(range(len(names_b)))
            if len(names_b) == len(self.names_a):
                self.notes.append(f"outputs paired by position (names differ: {', '.join(names_b)})")

    def pair(self, got: list) -> list | None:
        if len(got) != len(self.names_a):
            return None
        return [got[i] for i in self.order]


def _freed_checks(planned, runner_a, session_b, pairing, specs, seed, tolerance, alignment) -> list[RunCheck]:
    """The batch-2 and next-size checks of dims the second model frees (converter.run_plan)."""
    checks = []
    if planned.batch_check is not None:
        names, doubled = planned.batch_check
        single = {**doubled.shapes, **{n: (doubled.shapes[n][0] // 2,) + tuple(doubled.shapes[n][1:]) for n in names}}
        halves = [inputs_mod.random_feeds(specs, single, seed + 100 + i) for i in range(2)]
        refs = [runner_a.run(None, h) for h in halves]
        stacked_ref = [np.concatenate(pair, axis=0) for pair in zip(*refs)]
        feeds = {k: np.concatenate([h[k] for h in halves], axis=0) if k in names else halves[0][k] for k in halves[0]}
        checks.append(_check_run(session_b, stacked_ref, pairing, feeds, doubled, tolerance, alignment))
    for sizes_, predicted in planned.shape_checks:
        run = RunCheck({k: list(v) for k, v in sizes_.shapes.items()}, why=sizes_.why, checks=sizes_.checks)
        feeds = inputs_mod.random_feeds(specs, sizes_.shapes, seed + 200 + len(checks))
        try:
            got = pairing.pair(session_b.run(None, feeds))
        except Exception as e:  # noqa: BLE001 - the freed model must run at every size it admits
            run.failure = f"the second model fails to run: {one_line(e)}"
            checks.append(run)
            continue
        for name, value in zip(pairing.names_a, got or []):
            want = predicted.get(name)
            ok = want is None or list(value.shape) == list(want)
            run.outputs.append(OutputCheck(name, ok, 0.0 if ok else float("inf"), 0.0, 0.0,
                                           SHAPE_ONLY if ok else f"shape {list(value.shape)}, predicted {want}"))
        checks.append(run)
    return checks


def _verify_saved(a, b, saved_inputs, expected, tolerance, provider, folders, alignment) -> VerifyResult:
    """The models on saved inputs: b against a, or (with expected) b, or a alone, against saved outputs."""
    if saved_inputs is None:
        raise BadArgument("--expected needs the inputs they were computed from (--inputs FILE)")
    if expected is not None and len(expected) != len(saved_inputs):
        raise BadInput(f"{len(saved_inputs)} saved input set(s) but {len(expected)} expected output set(s)")
    tested, folder = (b, folders[1]) if b is not None else (a, folders[0])
    specs = {s.name: s for s in inputs_mod.input_specs(tested)}
    plist = providers_for(provider)
    session = load_session(tested, plist, "the model", folder)
    reference = None if expected is not None else reference_runner(a, plist, folders[0])[0]
    names = [o.name for o in tested.graph.output] if expected is not None else [o.name for o in a.graph.output]
    checks = []
    for i, feeds in enumerate(saved_inputs):
        missing = sorted(set(specs) - set(feeds))
        if missing:
            raise BadInput(f"saved input set {i} lacks {', '.join(missing)} (it has {', '.join(sorted(feeds))})")
        feeds = _saved_feeds(feeds, specs, f"saved input set {i}")
        sizes_ = run_plan.Sizes({k: v.shape for k, v in feeds.items()}, f"saved input set {i}")
        if expected is None:
            try:
                ref = reference.run(None, feeds)
            except Exception as e:  # noqa: BLE001 - onnxruntime raises several types
                shapes = ", ".join(f"{k} {_dims(v.shape)}" for k, v in feeds.items())
                raise BadInput(f"saved input set {i} ({shapes}) does not run on the first model: {one_line(e)}") from None
            pairing = _Pairing(a, tested)
        else:
            absent = [n for n in names if n not in expected[i]]
            if absent:
                raise BadInput(f"expected output set {i} lacks {', '.join(absent)} (it has {', '.join(sorted(expected[i]))})")
            ref = [np.asarray(expected[i][n]) for n in names]
            pairing = _Pairing(tested, tested)
        checks.append(_check_run(session, ref, pairing, feeds, sizes_, tolerance, alignment))
    on = session.get_providers()[0]
    return VerifyResult(all(c.ok for c in checks), on, tolerance.atol, tolerance.rtol, checks,
                        notes=["compared with the saved outputs" if expected is not None else "on the saved inputs"])


def _saved_feeds(saved: dict, specs: dict, what: str) -> dict:
    """The saved arrays the model takes, in its element types; bad input, named, where one does not fit:
    another rank or fixed dim, an empty dim (nothing would be compared), or values the type would change
    (complex into float, float into int)."""
    feeds = {}
    for name, value in saved.items():
        if name not in specs:
            continue
        value, want = np.asarray(value), specs[name].dims
        model = "x".join(str(d) if isinstance(d, int) and d > 0 else str(d or "?") for d in want)
        if len(value.shape) != len(want) or any(isinstance(w, int) and w > 0 and w != g for w, g in zip(want, value.shape)):
            raise BadInput(f"{what}: '{name}' has shape {_dims(value.shape)}, the model's '{name}' is {model}")
        if 0 in value.shape:
            raise BadInput(f"{what}: '{name}' has shape {_dims(value.shape)}: an empty dim leaves nothing to compare")
        dtype = onnx.helper.tensor_dtype_to_np_dtype(specs[name].elem_type)
        if not np.can_cast(value.dtype, dtype, "same_kind"):
            raise BadInput(f"{what}: '{name}' holds {value.dtype} values, the model's '{name}' takes {np.dtype(dtype)}")
        feeds[name] = value.astype(dtype, copy=False)
    return feeds


def _dims(shape) -> str:
    return "x".join(map(str, shape)) or "a scalar"


def _check_run(session_b, ref, pairing: _Pairing, feeds, sizes_, tolerance: Tolerance,
               alignment=Alignment()) -> RunCheck:
    run = RunCheck({k: list(v) for k, v in sizes_.shapes.items()}, why=sizes_.why, checks=sizes_.checks)
    try:
        got = pairing.pair(session_b.run(None, feeds))
    except Exception as e:  # noqa: BLE001
        run.failure = f"the second model fails to run: {one_line(e)}"
        return run
    if got is None:
        run.failure = f"the second model has another number of outputs than the first ({len(ref)})"
        return run
    run.outputs = [compare(name, r, g, *tolerance.of(name), alignment) for name, r, g in zip(pairing.names_a, ref, got)]
    return run


def first_divergence(a: onnx.ModelProto, b: onnx.ModelProto, feeds, providers, atol, rtol,
                     providers_b=None, folders: tuple = (None, None)) -> str | None:
    """The first tensor (in a's node order) that both models compute under one name and that differs."""
    produced_b = {o for n in b.graph.node for o in n.output if o}
    graph_outputs = {o.name for o in a.graph.output}
    shared = [o for n in a.graph.node for o in n.output if o and o in produced_b and o not in graph_outputs]
    if not shared:
        return None
    try:
        values_a = _run_exposing(a, shared, feeds, providers, folders[0])
        values_b = _run_exposing(b, shared, feeds, providers_b or providers, folders[1])
    except Exception:  # noqa: BLE001 - a best-effort hint; the mismatch itself is already established
        return None
    for name in shared:
        if not compare(name, values_a[name], values_b[name], atol, rtol).ok:
            return name
    return None


def _run_exposing(model: onnx.ModelProto, names: list[str], feeds, providers,
                  folder: Path | None = None) -> dict[str, np.ndarray]:
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    present = {o.name for o in exposed.graph.output}
    exposed.graph.output.extend(onnx.ValueInfoProto(name=n) for n in names if n not in present)
    session = make_session(exposed, providers, folder=folder)
    out_names = [o.name for o in session.get_outputs()]
    return dict(zip(out_names, session.run(None, feeds)))
