"""One self-contained HTML page from a report's JSON (convert, verify or sizes): pictures where people
would rather look than read.

The JSON report is the source of truth; this renders it and reads nothing else, so `onnxport report
REPORT.json --html PAGE` draws a report written earlier. Everything is inline (CSS, SVG; no script, no
font, no address outside the page): it opens offline and from a file. Only the rewritten neighbourhoods
are drawn (converter.svg_graph), so a page for a 3,000-node model stays small.
"""
from __future__ import annotations

import urllib.parse
from html import escape

from onnxport.converter.reports import svg_charts, svg_graph
from onnxport.converter.input_specs import sizes_text

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1d2330;max-width:1400px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #dde}h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse}td,th{border:1px solid #dde;padding:3px 8px;text-align:left;vertical-align:top}
.verdict{font-weight:600;padding:2px 8px;border-radius:4px}.ok{background:#e3f5e6;color:#14652a}
.bad{background:#fde8e8;color:#9b1c1c}.pair{display:flex;gap:24px;align-items:flex-start;overflow-x:auto}
.pair>div{flex:none}.identity{color:#4a5163;font-size:13px;max-width:1000px}.muted{color:#6b7280}
svg .box rect{fill:#eef2fb;stroke:#4a63b5}svg .box.input rect,svg .box.output rect{fill:#fff8e6;stroke:#b08a1e}
svg text{font:11px system-ui,sans-serif;text-anchor:middle}svg text.op{font-weight:600;font-size:12px}
svg .edge{fill:none;stroke:#7a839a;stroke-width:1.3}svg .bar{fill:#5b7bd5}svg .bar.exact{fill:#3c9a5f}
svg .bar.chosen{fill:#3c9a5f}svg .axis{stroke:#333}svg .bound{stroke:#c62828;stroke-width:2}
svg .boundlabel{fill:#c62828;text-anchor:start}svg .tick{font-size:10px;text-anchor:start}
svg .count{font-size:10px}svg .axislabel{text-anchor:start;font-size:10px}svg .name,svg .value{text-anchor:start}
svg circle.yes{fill:#3c9a5f}svg circle.no{fill:#e5e7eb}svg circle.exported{fill:none;stroke:#c62828;stroke-width:2}
svg .exportedlabel{fill:#c62828}
"""


MAX_SECTIONS = 500          # rewrites, runs or axes drawn on one page; the rest are counted


class NotAReport(ValueError):
    """The JSON is none of the reports a page is drawn from."""


def render(data: dict) -> str:
    """The page for a convert report, a verify result or a sizes listing (told apart by their keys)."""
    if not isinstance(data, dict):
        raise NotAReport("not an onnxport convert, verify or sizes report")
    if "rewrites" in data:
        title, body = f"onnxport convert: {data.get('source', '')}", _convert(data)
    elif "runs" in data:
        models = " vs ".join(map(str, data.get("models") or []))
        title, body = f"onnxport verify{': ' + models if models else ''}", _verification(data, "Verification")
    elif "axes" in data:
        title, body = f"onnxport sizes{': ' + str(data['source']) if data.get('source') else ''}", _sizes(data)
    else:
        raise NotAReport("not an onnxport convert, verify or sizes report")
    versions = ", ".join(f"{k} {v}" for k, v in data.get("versions", {}).items())
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>{body}"
            f"<p class=\"muted\">{escape(versions)}</p></body></html>")


def _verdict(ok: bool, text: str) -> str:
    return f'<p><span class="verdict {"ok" if ok else "bad"}">{"ok" if ok else "not ok"}</span> {escape(text)}</p>'


def _convert(data: dict) -> str:
    nodes, macs = data["nodes"], data["macs"]
    rows = [("input", data["source"]), ("output", data.get("output") or "(not written)"),
            ("targets", ", ".join(data["targets"]) + (f" (profile {data['profile']})" if data.get("profile") else "")),
            ("strategy", data["strategy"]), ("nodes", f"{nodes['before']} -> {nodes['after']}"),
            ("MACs", f"{_count(macs['before'])} -> {_count(macs['after'])} at "
                     + sizes_text(macs.get("at") or {}))]
    verification = data.get("verification")
    if verification:
        rows.append(("provider", verification["provider"]))
    parts = [_verdict(data["ok"], data["summary"]), _table(rows)]
    if data.get("output"):
        parts.append(f'<p>Open the whole model: {_file_link(str(data["output"]))} '
                     "(Netron opens .onnx files, if it is installed).</p>")
    parts.append(_still_violating(data))
    parts.append("<h2>Rewrites</h2>")
    rewritten = data["rewrites"].get("rewritten", [])
    if not rewritten:
        parts.append('<p class="muted">No node was rewritten.</p>')
    else:
        parts.append(LEGEND)
    for entry in rewritten[:MAX_SECTIONS]:
        parts.append(_rewrite(entry))
    parts.append(_more(rewritten, "rewrites"))
    kept = data["rewrites"].get("kept", [])
    if kept:
        parts.append("<h3>Left in place</h3>" + _table([(k["node"], f"{k['pass']}: {k['reason']}") for k in kept],
                                                        ("node", "why")))
    if data.get("strategy_choices"):
        parts.append("<h2>--strategy auto</h2>")
        for c in data["strategy_choices"]:
            parts.append(f"<h3>{escape(c['node'])}: {escape(c['strategy'])}</h3><p class=\"muted\">"
                         f"{escape(c['reason'])}</p>")
            if c["timings_ms"]:
                parts.append(svg_charts.bars(c["timings_ms"], "ms", f"timings of {c['node']}", c["strategy"]))
    if verification:
        parts.append(_verification(verification, "Verification on onnxruntime"))
    if data.get("runtime_verification"):
        parts.append(_verification(data["runtime_verification"], "Verification on the runtime"))
    return "".join(parts)


LEGEND = ('<p class="muted legend">Each box is an op, with the shape of its first output; <code>r5</code>: '
          "that output's rank (runtimes cap it, --max-rank), <code>+2c</code>: the constant inputs it reads "
          "(weights, shape vectors), left out of the picture. The tensors the rewritten part reads and writes "
          "are boxes of their own.</p>")


def _still_violating(data: dict) -> str:
    """A target not reached: what still violates it, why, the constraint's source, and the flag that fixes it."""
    remaining = data.get("remaining") or []
    if not remaining:
        return ""
    rows = [(v["node"], v["op"], v["violates"], v["source"]) for v in remaining[:MAX_SECTIONS]]
    fix = f'<p><b>What fixes it:</b> {escape(data["remedy"])}</p>' if data.get("remedy") else ""
    return ("<h2>Still violating the target</h2>" + fix + _table(rows, ("node", "op", "violates", "source"))
            + _more(remaining, "nodes"))


def _rewrite(entry: dict) -> str:
    share = f", {entry['macs_share']:.1%} of the model's MACs" if entry.get("macs_share") is not None else ""
    absorbed = entry.get("absorbed") or []
    before = ([entry["before"]] if entry.get("before") else []) + absorbed
    after = entry.get("after") or []
    took_in = ("<p class=\"muted\">The rewrite took in " + ", ".join(f"{escape(n['op'])} '{escape(n['name'])}'"
               for n in absorbed) + ": it is part of both pictures.</p>") if absorbed else ""
    if not before and entry.get("written_by"):
        took_in += (f"<p class=\"muted\">The rewrite of '{escape(entry['written_by'])}' wrote this node, and this "
                    "rewrite replaced it again; the after picture there shows what both made.</p>")
    return (f"<section class=\"rewrite\" data-node=\"{escape(entry['node'])}\"><h3>{escape(entry['node'])} "
            f"<span class=\"muted\">({escape(entry['pass'])}{share})</span></h3>"
            f"<p class=\"identity\">{escape(entry['identity'])}</p>{took_in}<div class=\"pair\">"
            f"<div class=\"before\"><b>before</b><br>{svg_graph.draw(before, 'before: ' + entry['node'])}</div>"
            f"<div class=\"after\"><b>after</b> ({len(after)} nodes)<br>"
            f"{svg_graph.draw(after, 'after: ' + entry['node'])}</div></div></section>")


def _verification(result: dict, heading: str) -> str:
    parts = [f"<h2>{escape(heading)}</h2>", _verdict(result["ok"], result["summary"])]
    if result.get("divergence"):
        parts.append(f"<p><b>First diverging tensor:</b> {escape(result['divergence'])}</p>")
    for run in result["runs"][:MAX_SECTIONS]:
        sizes = sizes_text(run["shapes"])
        if run.get("failure"):
            parts.append(f"<h3>{escape(sizes)}</h3><p class=\"bad\">{escape(run['failure'])}</p>")
        for out in run["outputs"]:
            where = f" at index {tuple(out['worst_at'])}" if out.get("worst_at") else ""
            parts.append(f"<section class=\"output\" data-output=\"{escape(out['name'])}\"><h3>{escape(out['name'])}"
                         f" at {escape(sizes)}</h3><p>max|a-b| = {out['max_abs_error']:.3g}{escape(where)}, bound "
                         f"{out['bound']:.3g} {'(ok)' if out['ok'] else '(exceeded)'}"
                         f"{' - ' + escape(out['note']) if out.get('note') else ''}</p>")
            if out.get("histogram"):
                parts.append(svg_charts.histogram(out["histogram"], out["bound"], f"|a-b| of {out['name']}"))
            parts.append("</section>")
    parts.append(_more(result["runs"], "runs"))
    return "".join(parts)


def _more(items: list, what: str) -> str:
    """The line that says how many sections a page leaves out (a page stays bounded for any report)."""
    left = len(items) - MAX_SECTIONS
    return f'<p class="muted">{left:,} more {what} not shown (the JSON report has them)</p>' if left > 0 else ""


def _file_link(path: str) -> str:
    """A link to the file as a path, percent-encoded: a name like javascript:... becomes a relative file
    name (javascript%3A...), never a URL scheme that would run."""
    return f'<a href="{escape(urllib.parse.quote(path))}">{escape(path)}</a>'


def _sizes(data: dict) -> str:
    parts = []
    for axis in data["axes"][:MAX_SECTIONS]:
        parts.append(f"<section class=\"axis\"><h3>{escape(axis['input'])} axis {escape(str(axis['axis']))} "
                     f"({escape(axis['role'])})</h3><p>{escape(axis['text'])}</p>")
        for kind in ("runs", "lossless"):
            found = axis.get(kind)
            if found:
                parts.append(f"<p class=\"muted\">{kind}: {escape(found['text'])}</p>")
                parts.append(svg_charts.number_line(found, axis.get("exported"),
                                                    f"{kind} sizes of axis {escape(str(axis['axis']))}"))
        parts.append("</section>")
    parts.append(_more(data["axes"], "axes"))
    return "".join(parts)


def _table(rows, header=None) -> str:
    head = "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr>" if header else ""
    return "<table>" + head + "".join(f"<tr><th>{escape(str(first))}</th>"
                                      + "".join(f"<td>{escape(str(cell))}</td>" for cell in rest) + "</tr>"
                                      for first, *rest in rows) + "</table>"


def _count(n) -> str:
    return "?" if n is None else f"{n:,}"
