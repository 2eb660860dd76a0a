"""Charts as inline SVG: an error histogram (log scale), a bar chart of timings, a number line of sizes."""
from __future__ import annotations

import math
from html import escape

W, H, LEFT, BOTTOM, TOP = 560, 180, 44, 34, 14
MAX_BARS = 64                # decades of |a-b| in a histogram: float32 has fewer than 90


def _svg(width: int, height: int, label: str, body: list[str]) -> str:
    return (f'<svg class="chart" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
            f'<title>{escape(label)}</title>' + "".join(body) + "</svg>")


def histogram(hist: dict, bound: float, label: str) -> str:
    """Counts of |a-b| per decade (converter.verification.comparison.error_histogram), bar heights on a log scale, the
    tolerance bound as a red line; exact zeros as the first bar."""
    edges, counts = hist["edges"], [hist["exact"]] + list(hist["counts"])
    if len(counts) > MAX_BARS or min(counts) < 0:
        raise ValueError(f"a histogram of {len(counts)} bars (at most {MAX_BARS}) or with a negative count")
    names = ["0", f"<{edges[0]:.0e}"] + [f"{e:.0e}" for e in edges]
    top = math.log10(max(counts) + 1) or 1
    step = (W - LEFT - 10) / len(counts)
    body = [f'<line class="axis" x1="{LEFT}" y1="{H - BOTTOM}" x2="{W - 10}" y2="{H - BOTTOM}"/>']
    for i, (name, count) in enumerate(zip(names, counts)):
        height = (H - BOTTOM - TOP) * math.log10(count + 1) / top
        x = LEFT + i * step
        body.append(f'<rect class="bar{" exact" if i == 0 else ""}" x="{x + 2:.1f}" y="{H - BOTTOM - height:.1f}" '
                    f'width="{step - 4:.1f}" height="{height:.1f}"><title>{escape(name)}: {count}</title></rect>')
        if count:
            body.append(f'<text class="count" x="{x + step / 2:.1f}" y="{H - BOTTOM - height - 3:.1f}">{count}</text>')
        body.append(f'<text class="tick" x="{x + step / 2:.1f}" y="{H - BOTTOM + 12:.1f}" '
                    f'transform="rotate(35 {x + step / 2:.1f} {H - BOTTOM + 12:.1f})">{escape(name)}</text>')
    if bound > 0:         # bar i >= 2 spans [edges[i-2], edges[i-1]): place the bound inside its decade
        position = 2 + (math.log10(bound) - math.log10(edges[0]))
        x = LEFT + min(max(position, 1), len(counts)) * step
        body.append(f'<line class="bound" x1="{x:.1f}" y1="{TOP - 4}" x2="{x:.1f}" y2="{H - BOTTOM}"/>'
                    f'<text class="boundlabel" x="{x + 3:.1f}" y="{TOP + 6}">bound {bound:.2g}</text>')
    body.append(f'<text class="axislabel" x="4" y="{TOP + 4}">count (log)</text>')
    return _svg(W, H + 30, label, body)


def bars(values: dict[str, float], unit: str, label: str, chosen: str | None = None) -> str:
    """Horizontal bars, one per entry (e.g. ms per strategy), the chosen one marked."""
    row, width = 26, W
    top = max(values.values()) or 1
    body = []
    for i, (name, value) in enumerate(values.items()):
        length = (width - 200) * value / top
        y = 8 + i * row
        body.append(f'<text class="name" x="4" y="{y + 14}">{escape(name)}</text>'
                    f'<rect class="bar{" chosen" if name == chosen else ""}" x="110" y="{y}" width="{length:.1f}" '
                    f'height="{row - 8}"/><text class="value" x="{116 + length:.1f}" y="{y + 14}">'
                    f'{value:g} {escape(unit)}</text>')
    return _svg(width, 16 + row * len(values), label, body)


MAX_DOTS = 256               # a number line's length: an exported size past it is named, not drawn


def number_line(found: dict, exported: int | None, label: str, until: int = 64) -> str:
    """Sizes 1..until as dots, the admissible ones filled (a size set of converter.size_sets as a dict:
    singles, and from `from` on every n with n % period in residues), the exported size ringed (extending
    the line to it, up to MAX_DOTS dots)."""
    if found["period"] < 1:
        raise ValueError(f"a size set's period is {found['period']}")
    until = max(until, min((exported or 0) + 8, MAX_DOTS))
    step = (W - 20) / until
    admitted = set(found["singles"]) | {n for n in range(max(found["from"], 1), until + 1)
                                        if n % found["period"] in found["residues"]}
    body = [f'<line class="axis" x1="10" y1="30" x2="{W - 10}" y2="30"/>']
    for n in range(1, until + 1):
        x = 10 + (n - 0.5) * step
        body.append(f'<circle class="{"yes" if n in admitted else "no"}" cx="{x:.1f}" cy="30" r="{step / 2.6:.1f}">'
                    f'<title>{n}{" admissible" if n in admitted else ""}</title></circle>')
        if n % 8 == 0 or n == 1:
            body.append(f'<text class="tick" x="{x:.1f}" y="52">{n}</text>')
        if n == exported:
            body.append(f'<circle class="exported" cx="{x:.1f}" cy="30" r="{step / 1.6:.1f}"/>'
                        f'<text class="exportedlabel" x="{min(max(x, 40), W - 40):.1f}" y="12">exported {n}</text>')
    if exported is not None and exported > until:
        body.append(f'<text class="exportedlabel" x="{W - 40}" y="12">exported {exported} (off the line)</text>')
    return _svg(W, 62, label, body)
