"""--strategy auto: per ConvTranspose, time the exact forms the target allows and keep the fastest.

Each ConvTranspose is cut out as a one-node model at the sizes verification starts with, lowered by
every strategy that can serve the target; a form that leaves something the runtime profile forbids
(after the profile's other rewrites) is not allowed. The allowed forms are timed where the user
deploys (a Site): the runtime the profile or --verify-on names (OpenVINO, OpenCV, tract, MNN, ...: each
form loaded in that runtime's worker, timed inside it; a form the runtime cannot load or run is not
allowed), else onnxruntime on the chosen provider. Each form is followed by a Relu as in a net, in
interleaved rounds (converter.timing). A form beats the one before it in PREFERENCE only by more than
MARGIN on the median of the per-round ratios, so load noise does not flip the choice; the choice is
cached per layer configuration and site (choice_cache), so repeated conversions agree. Without timing
the choice is deterministic: the first allowed form in PREFERENCE.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import onnx
import onnx_graphsurgeon as gs
from onnx import helper, numpy_helper

from onnxport.converter import choice_cache, pipeline, runtimes, shape_inference
from onnxport.converter.files import graph_io
from onnxport.converter.verification import timing
from onnxport.converter.runtimes.session import RuntimeFailure, RuntimeSession
from onnxport.errors import OnnxportError, first_line
from onnxport.passes import constant_value, weight_shape

PREFERENCE = ("subpixel", "convtranspose2d", "resize-conv")
MARGIN = 0.10            # how much faster (median per-round ratio) a later form must be to be chosen
TIMING_BUDGET_S = 1.0    # per ConvTranspose


@dataclass
class Choice:
    node: str
    strategy: str
    reason: str
    timings_ms: dict = field(default_factory=dict)
    refused: dict = field(default_factory=dict)       # strategy -> why it cannot serve

    def to_dict(self) -> dict:
        return {"node": self.node, "strategy": self.strategy, "reason": self.reason,
                "timings_ms": self.timings_ms, "refused": self.refused}


@dataclass(frozen=True)
class Site:
    """Where the forms are timed: a runtime (converter.runtimes) in a worker of its own, or onnxruntime on a
    provider. What is fastest on one is not on another, so the user's runtime decides where there is one."""

    provider: str = "auto"
    runtime: str | None = None
    note: str = ""                  # why not on the runtime the profile is for

    def name(self) -> str:
        return runtimes.info(self.runtime).title if self.runtime else _provider_name(self.provider)

    def cache_name(self) -> str:
        """The site and its version: a runtime upgraded is timed afresh (choice_cache adds onnxruntime's)."""
        return f"{self.runtime} {runtimes.installed_version(self.runtime)}" if self.runtime else self.name()


def choose(graph: gs.Graph, targets: list[str], max_rank, profile, sizes: dict, site: Site | None,
           lower: Callable) -> list[Choice]:
    """A Choice per ConvTranspose the targets (or the profile) lower, read from the graph being converted
    (not changed here); site None: no timing. `lower` is the engine's lower_candidate
    (converter.conversion), given rather than imported: the engine calls this module. Each node is cut out
    once, as a graph; each candidate form is made on a copy of it and exported only to be timed."""
    infos = shape_inference.infer(graph, sizes)
    ranks = pipeline.lowering_ranks(targets)
    choices = []
    for node in graph.nodes:
        if node.op != "ConvTranspose":
            continue
        one = _single(node, infos, graph)
        lowered_by_targets = one is not None and _rank(node) in ranks
        if one is None or (not lowered_by_targets and profile is None):
            continue
        base = graph_io.to_graph(one)
        if not lowered_by_targets and not _forbidden(base, targets, profile, lower):
            continue
        # a node only the profile forbids is lowered for this choice; a 3-D one may become 2-D ConvTransposes
        # (the profile, checked on each form, says whether it takes those)
        node_targets = targets if lowered_by_targets else \
            targets + ["no-convtranspose3d" if _rank(node) == 3 else "no-convtranspose"]
        choice = Choice(node.name, "", "")
        lowered = {}                     # one conversion per candidate form, reused for timing
        for strategy in PREFERENCE:
            form, why = _lowered(base, strategy, node_targets, max_rank, profile, lower)
            if why:
                choice.refused[strategy] = why
            else:
                lowered[strategy] = form
        allowed = list(lowered)
        if allowed and site is not None:
            key = choice_cache.key(one, allowed, site.cache_name())
            cached = choice_cache.get(key, allowed)
            how = "cached from an earlier timing of this layer"
            if cached is None:
                cached = _timed(one, {s: graph_io.to_model(g, like=one) for s, g in lowered.items()}, site)
                choice_cache.put(key, cached)
                how = f"{cached['rounds']} interleaved rounds"
            choice.refused.update(cached.get("refused", {}))
            allowed = [s for s in allowed if s not in choice.refused]
            choice.strategy, choice.timings_ms = cached["strategy"], cached["timings_ms"]
            choice.reason = (f"fastest of {len(allowed)} allowed form(s) on {site.name()} by more than "
                             f"{MARGIN:.0%}, else the first ({how}{'; ' + site.note if site.note else ''})")
        if not allowed:
            where = f"runs on {site.name()}" if lowered else "satisfies the target"
            choice.strategy, choice.reason = PREFERENCE[0], f"no form {where}; the default is kept"
        elif site is None:
            choice.strategy, choice.reason = allowed[0], "first allowed form (--no-timing)"
        choices.append(choice)
    return choices


def _provider_name(choice: str) -> str:
    from onnxport.converter.verification import sessions
    first = sessions.providers_for(choice)[0]
    return first[0] if isinstance(first, tuple) else first


def _rank(node: gs.Node) -> int:
    return len(weight_shape(node.inputs[1])) - 2


def _single(node: gs.Node, infos: dict, graph: gs.Graph) -> onnx.ModelProto | None:
    """The node alone, at concrete sizes, followed by a Relu as in a net; None if its weights or sizes are
    unknown."""
    x = infos.get(node.inputs[0].name)
    dims = shape_inference.dims_of(x) if x is not None else None
    if dims is None or not all(isinstance(d, int) and d > 0 for d in dims):
        return None
    inits, names = [], ["X"]
    for i, t in enumerate(node.inputs[1:], 1):
        value = constant_value(t) if t.name else None
        if t.name and value is None:
            return None
        if t.name:
            inits.append(numpy_helper.from_array(np.asarray(value), f"in{i}"))
        names.append(f"in{i}" if t.name else "")
    ct = helper.make_node("ConvTranspose", names, ["ct"], name=node.name, **node.attrs)
    y = infos.get(node.outputs[0].name)           # stated: runtimes such as OpenCV load no output without it
    g = helper.make_graph([ct, helper.make_node("Relu", ["ct"], ["Y"])], "one",
                          [helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, dims)],
                          [helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT,
                                                         shape_inference.dims_of(y) if y is not None else None)],
                          inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", max(11, int(graph.opset)))])
    model.ir_version = 8
    return model


def _lowered(base: gs.Graph, strategy: str, targets, max_rank, profile,
             lower: Callable) -> tuple[gs.Graph | None, str]:
    """(the node in this form, '') or (None, why the strategy cannot serve it)."""
    form = base.copy()
    try:
        remaining = lower(form, targets + ([profile.origin] if profile is not None else []), strategy, max_rank)
    except OnnxportError as e:          # this strategy cannot take this node (a bug keeps its traceback)
        return None, first_line(e, 160)
    return (None, f"leaves {remaining[0].text()}") if remaining else (form, "")


def _sizes(one: onnx.ModelProto) -> dict:
    """The one-node model's input size (static): what its forms are timed at."""
    return {"X": [d.dim_value for d in one.graph.input[0].type.tensor_type.shape.dim]}


def _forbidden(base: gs.Graph, targets: list[str], profile, lower: Callable) -> bool:
    """Whether the profile still forbids the ConvTranspose once its padding is normalised (as convert does)."""
    normalized = base.copy()
    lower(normalized, ["normalize-padding"] if "normalize-padding" in targets else [])
    return any(profile.forbids(n) for n in normalized.nodes if n.op == "ConvTranspose")


class _FormFailed(Exception):
    def __init__(self, strategy: str, why: str):
        super().__init__(why)
        self.strategy = strategy


def _timed(one: onnx.ModelProto, lowered: dict[str, onnx.ModelProto], site: Site) -> dict:
    """The allowed forms (in PREFERENCE order) timed in interleaved rounds at the site; the first unless
    another is faster by more than MARGIN (then the fastest of those). On a runtime, a form it cannot load
    or run is refused (said in the entry) and the rest are timed again."""
    feeds = {"X": np.random.default_rng(0).standard_normal(_sizes(one)["X"]).astype(np.float32)}
    refused: dict[str, str] = {}
    with contextlib.ExitStack() as stack:
        forms, sample = _forms_at(site, lowered, feeds, refused, stack)
        while forms:
            allowed = list(forms)
            try:
                result = timing.compare(forms, allowed[0], budget_s=TIMING_BUDGET_S, min_rounds=5, max_rounds=30,
                                        **sample)
                break
            except _FormFailed as e:                # it crashed the runtime's worker: the others go on
                refused[e.strategy] = f"{site.name()} fails on it: {e}"
                del forms[e.strategy]
    if not forms:
        return {"strategy": next(iter(lowered)), "timings_ms": {}, "rounds": 0, "refused": refused}
    return {"strategy": pick(result, allowed), "timings_ms": {s: round(result.ms[s].median, 3) for s in allowed},
            "rounds": result.rounds, "refused": refused}


def pick(result: timing.Comparison, allowed: list[str]) -> str:
    """The rule: the first allowed form (the comparison's reference) unless another is faster by more than
    MARGIN on its median per-round ratio; then the fastest of those."""
    faster = [s for s in allowed if result.ratio[s].median < 1 - MARGIN]
    return min(faster, key=lambda s: result.ratio[s].median) if faster else allowed[0]


def _forms_at(site: Site, lowered: dict, feeds: dict, refused: dict, stack: contextlib.ExitStack) -> tuple[dict, dict]:
    """(form -> what timing.compare times, compare's keyword for how): onnxruntime sessions timed here, or
    the runtime's workers timing their own runs (one per form; those that cannot load it are refused)."""
    from onnxport.converter.verification import sessions
    if site.runtime is None:
        sessions = {s: sessions.make_session(form, sessions.providers_for(site.provider), optimized=True)
                    for s, form in lowered.items()}
        return {s: (lambda x=x: x.run(None, feeds)) for s, x in sessions.items()}, {}
    timers = {}
    for strategy, form in lowered.items():
        try:
            session = RuntimeSession(site.runtime, form)
        except RuntimeFailure as e:
            refused[strategy] = first_line(e, 160)
            continue
        stack.callback(session.close)
        timers[strategy] = _tagged(strategy, session.timer(feeds))
    return timers, {"sample": lambda timer, repeats: timer(repeats)}


def _tagged(strategy: str, timer: Callable[[int], float]) -> Callable[[int], float]:
    def median_ms(repeats: int) -> float:
        try:
            return timer(repeats)
        except RuntimeFailure as e:
            raise _FormFailed(strategy, first_line(e, 160)) from None
    return median_ms
