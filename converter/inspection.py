"""`onnxport inspect`: what a target (a runtime profile or generic targets) cannot run, and what convert
would do about it.

Every violation of the original model is listed with the constraint it breaks and that constraint's
source. Then the model is converted in memory as `convert` would with the same options (--strategy auto
without timing), and
each violation is judged by what became of its node: rewritten by a pass and nothing left of it that
the target forbids (rewritable), rewritten but the replacement still violates, or left in place (with
the reason the passes gave). Nodes of the replacement carry the original node's name as a prefix, which
is how they are traced back. Unnamed nodes get names in the inspected copy so they can be traced too.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import onnx

from onnxport.converter.report_header import header
from onnxport.converter import conversion, pipeline, shape_inference
from onnxport.converter.files import graph_io
from onnxport.errors import OnnxportError
from onnxport.converter.profiles import Profile, Violation
from onnxport.passes import all_passes, origin, writers


@dataclass
class Blocker:
    violation: Violation
    rewritten_by: str = ""            # "pass (summary)[, then ...]", or "" when no pass rewrote the node
    left: list[Violation] = field(default_factory=list)     # what still violates after convert
    kept_because: list[str] = field(default_factory=list)   # why the passes left the node in place

    @property
    def rewritable(self) -> bool:
        return bool(self.rewritten_by) and not self.left and not self.kept_because

    def verdict(self) -> str:
        if self.rewritable:
            return f"rewritable: {self.rewritten_by}"
        if self.rewritten_by:
            return f"rewritten by {self.rewritten_by}, but {len(self.left)} node(s) of the result still violate " \
                   f"({self.left[0].node}: {self.left[0].text()})"
        if any(v.node == self.violation.node for v in self.left) or self.kept_because:
            why = "; ".join(self.kept_because) or "no onnxport rewrite removes this"
            return f"not rewritable: {why}"
        return "resolved by the other rewrites"

    def to_dict(self) -> dict:
        return {**self.violation.to_dict(), "rewritable": self.rewritable, "verdict": self.verdict(),
                "rewritten_by": self.rewritten_by, "left": [v.to_dict() for v in self.left],
                "kept_because": self.kept_because}


@dataclass
class Inspection:
    source: str
    targets: list[str]
    profile: Profile | None
    blockers: list[Blocker]
    remaining: list[Violation]        # everything that still violates after convert
    refused: str = ""                 # convert itself refused the model (the one-line error)

    @property
    def convertible(self) -> bool:
        return not self.remaining and not self.refused

    @property
    def ok(self) -> bool:
        """convert would leave nothing the target forbids."""
        return self.convertible

    def summary(self) -> str:
        verdict = (f"convert refuses it: {self.refused}" if self.refused else
                   f"{len(self.remaining)} node(s) would still violate the target" if self.remaining else
                   "convert would leave nothing the target forbids")
        return f"{self.source}: {len(self.blockers)} blocker(s); {verdict}"

    def text(self) -> str:
        against = f"runtime profile {self.profile.name} ({self.profile.title}; read {self.profile.read})" \
            if self.profile else f"targets {', '.join(self.targets)}"
        lines = [f"{self.source} against {against}: {len(self.blockers)} blocker(s)"]
        lines += [f"  note: {note}" for note in (self.profile.notes if self.profile else [])]
        for b in self.blockers:
            v = b.violation
            lines += [f"  '{v.node}' {v.op}: {v.why}", f"      source: {v.source}", f"      {b.verdict()}"]
        traced = {id(v) for b in self.blockers for v in b.left}
        others = [v for v in self.remaining if id(v) not in traced]
        for v in others:
            lines.append(f"  after convert, also: '{v.node}' {v.text()}")
        if self.refused:
            lines.append(f"convert refuses this model: {self.refused}")
        elif self.remaining:
            lines.append(f"after convert: {len(self.remaining)} node(s) would still violate the target")
        else:
            lines.append("after convert: nothing the target forbids would remain")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        profile = {k: getattr(self.profile, k) for k in ("name", "title", "source", "read", "notes")} \
            if self.profile else None
        return {**header(), "ok": self.ok, "summary": self.summary(), "source": self.source, "targets": self.targets, "profile": profile,
                "blockers": [b.to_dict() for b in self.blockers],
                "remaining_after_convert": [v.to_dict() for v in self.remaining],
                "refused": self.refused, "convertible": self.convertible}


def inspect(model: onnx.ModelProto, options, source: str = "<model>", folder=None) -> Inspection:
    """Blockers of `model` under ConvertOptions `options`, and whether convert would clear each."""
    model = _named(model)
    plan = conversion.resolve_options(options)
    graph = graph_io.to_graph(model, folder)
    shape_inference.annotate(graph)
    found = pipeline.violations(graph, plan.checked) + (plan.profile.violations(graph) if plan.profile else [])
    inspection = Inspection(source, plan.targets, plan.profile, [], [])
    try:
        _, report = conversion.convert_model(model, options, source=source, folder=folder)
    except OnnxportError as e:
        inspection.refused = str(e)
        inspection.blockers = [Blocker(v) for v in found]
        return inspection
    inspection.remaining = report.remaining
    summaries = {p.name: p.summary for p in all_passes()}
    written_by = writers(report.passes)
    for v in found:
        blocker = Blocker(v, left=[r for r in report.remaining if origin(r.node, written_by) == v.node])
        if v.op == "graph input":
            if options.fix_sizes and not blocker.left:
                blocker.rewritten_by = "--fix-sizes (input sizes fixed, shape arithmetic folded)"
            else:
                blocker.kept_because = ["the runtime takes static sizes only: give --fix-sizes NAME=DIMS"]
            inspection.blockers.append(blocker)
            continue
        rewriters = [p.name for p in report.passes if v.node in p.rewritten]
        blocker.rewritten_by = ", then ".join(f"{name} ({summaries[name]})" for name in rewriters)
        if not rewriters:
            blocker.kept_because = list(dict.fromkeys(f"{p.name}: {why}" for p in report.passes
                                                      for node, why in p.skipped if node == v.node))
        inspection.blockers.append(blocker)
    return inspection


def _named(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy where every node has a name (so its rewrite can be traced); named models are returned as is."""
    if all(n.name for n in model.graph.node):
        return model
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    taken = {n.name for n in copy.graph.node}
    for i, node in enumerate(copy.graph.node):
        if not node.name:
            name = f"{node.op_type}_{i}"
            while name in taken:
                name += "_"
            node.name = name
            taken.add(name)
    return copy
