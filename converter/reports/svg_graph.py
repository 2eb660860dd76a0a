"""A small ONNX subgraph drawn as inline SVG, top-down, in layers (a Sugiyama-style layout, kept simple).

Nodes sit in layers by their longest path from the subgraph's inputs; within a layer they are ordered by
the mean position of their neighbours (a few sweeps down and up, which removes most crossings in the
chains rewrites produce); edges are curves from a producer's bottom to a consumer's top. Tensors coming
from outside the subgraph are drawn as inputs, tensors nobody inside reads as outputs; constants (weights,
shape vectors) are left out of the picture and counted in the node's label. Only the standard library.
"""
from __future__ import annotations

from html import escape

BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 150, 42, 24, 34, 12


def _shape_text(shape) -> str:
    return "?" if shape is None else "x".join(map(str, shape)) or "scalar"


def _boxes(nodes: list[dict]) -> tuple[list[dict], list[tuple[int, int]]]:
    """Op boxes plus input/output boxes, and the edges between them (by index)."""
    produced = {o["name"]: i for i, n in enumerate(nodes) for o in n["outputs"]}
    consumed = {t["name"] for n in nodes for t in n["inputs"]}
    boxes = [{"title": n["op"], "detail": _shape_text(n["outputs"][0]["shape"]) if n["outputs"] else "",
              "rank": len(n["outputs"][0]["shape"]) if n["outputs"] and n["outputs"][0]["shape"] is not None else None,
              "constants": sum(t["constant"] for t in n["inputs"]), "kind": "op", "name": n["name"]} for n in nodes]
    edges, outside = [], {}
    for i, n in enumerate(nodes):
        for t in n["inputs"]:
            if t["constant"]:
                continue
            if t["name"] in produced:
                edges.append((produced[t["name"]], i))
                continue
            if t["name"] not in outside:
                outside[t["name"]] = len(boxes)
                boxes.append({"title": t["name"], "detail": _shape_text(t["shape"]), "rank": None, "constants": 0,
                              "kind": "input", "name": t["name"]})
            edges.append((outside[t["name"]], i))
    for i, n in enumerate(nodes):
        for t in n["outputs"]:
            if t["name"] not in consumed:
                boxes.append({"title": t["name"], "detail": _shape_text(t["shape"]), "rank": None, "constants": 0,
                              "kind": "output", "name": t["name"]})
                edges.append((i, len(boxes) - 1))
    return boxes, sorted(set(edges))


def _layers(count: int, edges: list[tuple[int, int]]) -> list[int]:
    """Longest path from the sources (edges come from a topologically sorted graph plus its boundary)."""
    layer = [0] * count
    for _ in range(count):                       # relax until stable: at most `count` rounds, usually a few
        changed = False
        for a, b in edges:
            if layer[b] < layer[a] + 1:
                layer[b], changed = layer[a] + 1, True
        if not changed:
            break
    return layer


def _order(layer: list[int], edges: list[tuple[int, int]]) -> dict[int, list[int]]:
    rows: dict[int, list[int]] = {}
    for i, level in enumerate(layer):
        rows.setdefault(level, []).append(i)
    ups = {i: [a for a, b in edges if b == i] for i in range(len(layer))}
    downs = {i: [b for a, b in edges if a == i] for i in range(len(layer))}
    for sweep in range(4):
        levels = sorted(rows) if sweep % 2 == 0 else sorted(rows, reverse=True)
        for level in levels:
            neighbours = ups if sweep % 2 == 0 else downs
            position = {i: p for row in rows.values() for p, i in enumerate(row)}
            def centre(i, neighbours=neighbours, position=position):
                near = [position[j] for j in neighbours[i]]
                return sum(near) / len(near) if near else position[i]
            rows[level].sort(key=centre)
    return rows


MAX_DRAWN = 300      # nodes in one picture: a rewrite of a real net has tens; the layout is quadratic in them


def draw(nodes: list[dict], label: str) -> str:
    """The subgraph as an <svg> element (with a <title> for accessibility); more than MAX_DRAWN nodes are
    named in a line, not drawn (a crafted report of 10,000 nodes laid out for minutes)."""
    if len(nodes) > MAX_DRAWN:
        return f'<p class="muted">{len(nodes):,} nodes: too many to draw (at most {MAX_DRAWN})</p>'
    boxes, edges = _boxes(nodes)
    if not boxes:
        return f'<svg class="graph" role="img" width="1" height="1"><title>{escape(label)}</title></svg>'
    rows = _order(_layers(len(boxes), edges), edges)
    widest = max(len(r) for r in rows.values())
    width = widest * (BOX_W + GAP_X) - GAP_X + 2 * MARGIN
    height = len(rows) * (BOX_H + GAP_Y) - GAP_Y + 2 * MARGIN
    where = {}
    for level, row in rows.items():
        offset = MARGIN + (width - 2 * MARGIN - (len(row) * (BOX_W + GAP_X) - GAP_X)) / 2
        for p, i in enumerate(row):
            where[i] = (offset + p * (BOX_W + GAP_X), MARGIN + level * (BOX_H + GAP_Y))
    parts = [f'<svg class="graph" role="img" width="{width:.0f}" '
             f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}"><title>{escape(label)}</title>']
    for a, b in edges:
        (xa, ya), (xb, yb) = where[a], where[b]
        x1, y1, x2, y2 = xa + BOX_W / 2, ya + BOX_H, xb + BOX_W / 2, yb
        mid = (y1 + y2) / 2
        parts.append(f'<path class="edge" d="M{x1:.1f},{y1:.1f} C{x1:.1f},{mid:.1f} {x2:.1f},{mid:.1f} '
                     f'{x2:.1f},{y2:.1f}"/>')
    for i, box in enumerate(boxes):
        x, y = where[i]
        detail = box["detail"] + (f"  r{box['rank']}" if box["rank"] is not None else "")
        detail += f"  +{box['constants']}c" if box["constants"] else ""
        title = box["title"] if len(box["title"]) <= 22 else "…" + box["title"][-21:]
        parts.append(f'<g class="box {box["kind"]}"><title>{escape(box["name"])}</title>'
                     f'<rect x="{x:.1f}" y="{y:.1f}" width="{BOX_W}" height="{BOX_H}" rx="6"/>'
                     f'<text x="{x + BOX_W / 2:.1f}" y="{y + 17:.1f}" class="op">{escape(title)}</text>'
                     f'<text x="{x + BOX_W / 2:.1f}" y="{y + 33:.1f}" class="shape">{escape(detail)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)
