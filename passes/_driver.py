"""Runs one pass over a graph: match everything first, then rewrite, then clean up and validate once.

Matching never mutates, so changing the graph while walking it cannot happen; a later match that touches
a node an earlier rewrite consumed is dropped ("overlaps an earlier match"). Subgraphs (If/Loop/Scan
bodies) are walked too. After a rewrite the graph is cleaned up and topologically sorted, and the
driver checks what every pass must keep: graph outputs (names, dtypes) and no dangling tensors.
A rewrite that raises is a bug in onnxport: PassError names the pass, the node and the passes before.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import onnx_graphsurgeon as gs

from onnxport.errors import OnnxportError, PassError
from onnxport.passes._graph import GraphBuilder
from onnxport.passes._registry import Options, Pass, Skip, settings_for


@dataclass
class PassReport:
    name: str
    applied: int = 0
    rewritten: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    recipes: list[dict] = field(default_factory=list)
    written: dict[str, list[str]] = field(default_factory=dict)     # anchor -> the nodes its rewrite wrote
    absorbed: dict[str, list[str]] = field(default_factory=dict)    # anchor -> the other nodes its match took in
    added: Counter = field(default_factory=Counter)
    removed: Counter = field(default_factory=Counter)

    @property
    def modified(self) -> bool:
        return self.applied > 0

    def to_dict(self) -> dict:
        return {"pass": self.name, "applied": self.applied, "rewritten": self.rewritten, "written": self.written,
                "skipped": [{"node": n, "reason": r} for n, r in self.skipped],
                "ops_added": dict(self.added), "ops_removed": dict(self.removed)}


def writers(reports: list[PassReport]) -> dict[str, str]:
    """node name -> the anchor whose rewrite wrote it, over passes applied in this order (a node a later
    pass rewrote answers with that pass's anchor, which may itself have been written by an earlier one)."""
    found = {}
    for report in reports:
        for anchor, names in report.written.items():
            found.update((n, anchor) for n in names if n != anchor)
    return found


def origin(name: str, written_by: dict[str, str]) -> str:
    """The node of the graph before every pass that `name` came from (itself if no pass wrote it)."""
    seen = set()
    while name in written_by and name not in seen:
        seen.add(name)
        name = written_by[name]
    return name


def all_graphs(graph: gs.Graph) -> list[gs.Graph]:
    """The main graph, its control-flow bodies and its model-local functions (and theirs)."""
    graphs = [graph] + list(graph.subgraphs(recursive=True))
    for func in graph.functions:
        graphs += [func] + list(func.subgraphs(recursive=True))
    return graphs


def taken_names(graph: gs.Graph) -> set[str]:
    names = set()
    for g in all_graphs(graph):
        names.update(g.tensors().keys())
        names.update(n.name for n in g.nodes)
    return names


def apply(graph: gs.Graph, p: Pass, options: Options = Options(), previous: list[str] | None = None) -> PassReport:
    report = PassReport(p.name)
    taken = taken_names(graph)
    for g in all_graphs(graph):
        _apply_to(g, p, options, previous or [], report, taken, is_root=g is graph)
    return report


def _apply_to(graph, p, options, previous, report, taken, is_root):
    if int(graph.opset) < p.min_opset:
        for node in graph.nodes:
            if p.anchor_ops is None or node.op in p.anchor_ops:
                report.skipped.append((node.name, f"opset {graph.opset} is below {p.min_opset}, the lowest "
                                                  f"this pass emits"))
        return
    matches = []
    if p.anchor_ops == ():                          # a graph-level pass: one match for the whole graph
        found = p.match(graph, None, settings_for(p, options)) if is_root else None
        if isinstance(found, Skip):
            report.skipped.append((graph.name, found.reason))
        elif found is not None:
            matches.append((graph, _declared(p, found, graph.name, previous)))
    settings = settings_for(p, options)
    for node in list(graph.nodes) if p.anchor_ops != () else []:
        if (p.anchor_ops is not None and node.op not in p.anchor_ops) or (node.domain or "") not in ("", "ai.onnx") \
                or (options.nodes is not None and node.name not in options.nodes) \
                or (options.only is not None and not options.only(node)):
            continue
        found = p.match(graph, node, settings)
        if isinstance(found, Skip):
            report.skipped.append((node.name, found.reason))
        elif found is not None:
            matches.append((node, _declared(p, found, node.name, previous)))
    if not matches:
        return
    outputs_before = _outputs(graph, p)
    ops_before = Counter(n.op for n in graph.nodes)
    consumed: set[int] = set()
    wrote: list[gs.Node] = []
    for anchor, m in matches:
        ids = {id(n) for n in m.nodes}
        if ids & consumed:
            report.skipped.append((anchor.name, "overlaps an earlier match"))
            continue
        start = len(graph.nodes)                    # rewrites append what they write (GraphBuilder, gs.Node)
        try:
            recipe = p.rewrite(graph, m, GraphBuilder(graph, anchor.name or p.name, taken))
        except OnnxportError:
            raise
        except Exception as e:  # a broken rewrite is a bug: say where, keep the cause
            raise PassError(p.name, anchor.name, previous, e) from e
        consumed |= ids
        new = list(graph.nodes[start:]) + [n for n in m.nodes if isinstance(n, gs.Node) and n.outputs]
        wrote += new
        report.written.setdefault(anchor.name, []).extend(n.name for n in new)
        others = [n.name for n in m.nodes if isinstance(n, gs.Node) and n is not anchor and n.name]
        if others:
            report.absorbed.setdefault(anchor.name, []).extend(others)
        report.applied += 1
        report.rewritten.append(anchor.name)
        if recipe is not None:
            report.recipes.append(recipe)
    graph.cleanup().toposort()
    ops_after = Counter(n.op for n in graph.nodes)
    report.added.update(ops_after - ops_before)
    report.removed.update(ops_before - ops_after)
    _validate(graph, outputs_before, p, previous, is_root)
    _check_ensures(graph, p, previous, None if p.anchor_ops == () else {id(n) for n in wrote})


def _declared(p: Pass, found, where: str, previous: list[str]):
    """The match, if it is of the type the pass declares (its rewrite reads that type's fields)."""
    if not isinstance(found, p.matches):
        raise PassError(p.name, where, previous, TypeError(
            f"its match returned a {type(found).__name__}, not the {p.matches.__name__} it declares"))
    return found


def _outputs(graph: gs.Graph, p: Pass) -> list[tuple]:
    """What a pass must keep of the graph outputs: names, dtypes and (where known) ranks."""
    rank = lambda t: None if p.changes_output_ranks or t.shape is None else len(t.shape)   # noqa: E731
    return [(t.name, t.dtype, rank(t)) for t in graph.outputs]


def _check_ensures(graph: gs.Graph, p: Pass, previous: list[str], wrote: set[int] | None) -> None:
    """The pass's postconditions on the nodes its rewrites wrote (all nodes for a graph-level pass)."""
    if not p.ensures:
        return
    written = graph.nodes if wrote is None else [n for n in graph.nodes if id(n) in wrote]
    for node in written:
        for ensure in p.ensures:
            why = ensure(node)
            if why:
                raise PassError(p.name, node.name, previous, AssertionError(f"postcondition broken: {why} remains "
                                                                            f"among the nodes it wrote"))


def _validate(graph: gs.Graph, outputs_before, p: Pass, previous: list[str], is_root: bool) -> None:
    def fail(node_name: str, why: str):
        raise PassError(p.name, node_name, previous, AssertionError(why))

    if _outputs(graph, p) != outputs_before:
        fail("<graph outputs>", "graph outputs changed (name, dtype or rank)")
    produced = {t.name for t in graph.inputs}
    for node in graph.nodes:
        for t in node.inputs:
            if is_root and t.name and not isinstance(t, gs.Constant) and t.name not in produced:
                fail(node.name, f"input '{t.name}' is produced by no node")
        produced.update(t.name for t in node.outputs)
