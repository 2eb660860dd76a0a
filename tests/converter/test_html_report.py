"""The HTML report: one self-contained page per convert, verify or sizes report, rendered from the JSON.

Unit checks parse the page (html.parser) for what the issue asks of it; the browser checks load it in
headless Chromium from a file URL (.ci/run installs Debian's chromium where it is absent).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import onnx
import pytest

from onnxport import cli
from onnxport.converter import api
from onnxport.converter.reports import html_report
from onnxport.models import large_unet3d
from tests.cli.test_cli import assert_one_line_error, run
from tests.helpers import cli_with_peak

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Page(HTMLParser):
    """The parts of a page the tests look at: sections by class, SVGs per section, every URL-like value."""

    def __init__(self, text: str):
        super().__init__()
        self.sections: list[dict] = []
        self.stack: list[dict | None] = []
        self.urls: list[str] = []
        self.svgs = 0
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.urls += [v for k, v in attrs.items() if k in ("href", "src", "xlink:href") and v]
        section = None
        if tag == "section":
            section = {"class": attrs.get("class"), "attrs": attrs, "svgs": [], "divs": []}
            self.sections.append(section)
        if tag == "svg":
            self.svgs += 1
            owner = next((s for s in reversed(self.stack) if s is not None), None)
            if owner is not None:
                owner["svgs"].append((attrs.get("class"), self._div))
        if tag == "div" and attrs.get("class") in ("before", "after"):
            self._div = attrs["class"]
        self.stack.append(section)

    _div = None

    def handle_endtag(self, tag):
        if self.stack:
            self.stack.pop()


def convert_report(tmp_path, name="example:unet3d", *extra) -> tuple[dict, str]:
    report, page = tmp_path / "r.json", tmp_path / "r.html"
    code, stdout, _ = run_cli(["convert", name, "-o", str(tmp_path / "o.onnx"), "--json", str(report),
                               "--html", str(page), *extra])
    assert code == 0, stdout
    return json.loads(report.read_text()), page.read_text()


def run_cli(argv):
    import io
    from contextlib import redirect_stderr, redirect_stdout
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


def no_external_reference(text: str, page: Page) -> bool:
    external = re.compile(r"^(https?:|//|ftp:)", re.I)
    return not any(external.match(u) for u in page.urls) and not re.search(r"url\(|@import|https?://", text)


def test_every_rewrite_has_a_before_and_an_after_picture_and_every_output_a_histogram(tmp_path):
    data, text = convert_report(tmp_path)
    page = Page(text)
    rewrites = [s for s in page.sections if s["class"] == "rewrite"]
    assert {s["attrs"]["data-node"] for s in rewrites} == {r["node"] for r in data["rewrites"]["rewritten"]} != set()
    for s in rewrites:
        assert [d for _, d in s["svgs"]] == ["before", "after"]
    outputs = [s for s in page.sections if s["class"] == "output"]
    runs = data["verification"]["runs"]
    assert len(outputs) == sum(len(r["outputs"]) for r in runs)
    assert all([c for c, _ in s["svgs"]] == ["chart"] for s in outputs)
    assert no_external_reference(text, page)
    assert html_report.render(data) == text                  # the page is the JSON, rendered


def test_the_report_json_says_what_each_rewrite_replaced_and_with_what(tmp_path):
    data, _ = convert_report(tmp_path, "example:gan3d")
    for entry in data["rewrites"]["rewritten"]:
        assert entry["before"]["op"] == "ConvTranspose" and entry["identity"].startswith("Identity")
        ops = [n["op"] for n in entry["after"]]
        assert "Conv" in ops and "ConvTranspose" not in ops
        assert all(n["name"] == entry["node"] or n["name"].startswith(entry["node"] + "/") for n in entry["after"])
        assert 0 < entry["macs_share"] <= 1
    first = data["verification"]["runs"][0]
    histogram = first["outputs"][0]["histogram"]
    assert first["shapes"]["z"][0] == 1 and histogram["exact"] + sum(histogram["counts"]) == 32 ** 3   # every voxel


def test_auto_strategy_timings_are_drawn_as_bars_through_the_api(tmp_path):
    import onnxport
    page = tmp_path / "auto.html"
    report = onnxport.convert("example:gan3d", tmp_path / "o.onnx", onnxport.ConvertOptions(strategy="auto"),
                              html=page)
    charts = re.findall(r'<svg class="chart"[^>]*><title>timings of ([^<]*)</title>', page.read_text())
    assert sorted(charts) == sorted(c.node for c in report.choices) and len(charts) == 4


def test_a_failed_targets_page_says_what_violates_it_and_the_flag_that_fixes_it(tmp_path):
    """--target opencv on a net with a free batch: the page lists the input, why, the constraint's source
    and the exact --fix-sizes the refusal names (it once said only '1 node(s) still violate')."""
    report, page = tmp_path / "r.json", tmp_path / "r.html"
    code, _, err = run_cli(["convert", "example:gan3d", "-o", str(tmp_path / "o.onnx"), "--target", "opencv",
                            "--json", str(report), "--html", str(page)])
    data, text = json.loads(report.read_text()), page.read_text()
    assert code == 1 and data["remedy"].startswith("--fix-sizes z=1x32x1x1x1 reaches it") and data["remedy"] in err
    section = text[text.index("<h2>Still violating the target</h2>"):text.index("<h2>Rewrites</h2>")]
    assert escape(data["remedy"]) in section
    for violation in data["remaining"]:
        assert all(escape(violation[k]) in section for k in ("node", "op", "violates", "source"))
    assert "<code>r5</code>" in text and "<code>+2c</code>" in text            # the pictures' tags explained


def frontier(nodes: list[dict]) -> tuple[set, set]:
    """The tensors a picture reads from outside (not constants) and those nobody inside reads."""
    produced = {t["name"] for n in nodes for t in n["outputs"]}
    consumed = {t["name"] for n in nodes for t in n["inputs"]}
    return ({t["name"] for n in nodes for t in n["inputs"] if not t["constant"] and t["name"] not in produced},
            produced - consumed)


def test_before_and_after_pictures_span_the_same_frontier(tmp_path):
    """The Relu the sub-pixel rewrite moves next to its Conv is in both pictures (once only on the right),
    and said; a Conv a later pass rewrote again (conv3d-to-conv2d under --target opencv) is in the first
    rewrite's after picture as what replaced it (once that picture lost it), and the second rewrite says
    whose node it was."""
    from onnxport.models import convtranspose
    onnx.save(convtranspose.build([4, 4, 4], 8, 8, [2, 2, 2], strides=[2, 2, 2], consumer="Relu+GlobalAveragePool"),
              str(tmp_path / "layer.onnx"))
    data, text = convert_report(tmp_path, str(tmp_path / "layer.onnx"))
    [entry] = data["rewrites"]["rewritten"]
    assert [n["op"] for n in entry["absorbed"]] == ["Relu"] and "The rewrite took in Relu 'relu_1_node'" in text
    assert frontier([entry["before"]] + entry["absorbed"]) == frontier(entry["after"])
    data, text = convert_report(tmp_path, "example:gan3d", "--target", "opencv", "--fix-sizes", "z=1x32x1x1x1", "--force")
    entries = {e["node"]: e for e in data["rewrites"]["rewritten"]}
    first, again = entries["up0_1_node"], entries["up0_1_node/phase_conv_node"]
    assert frontier([first["before"]]) == frontier(first["after"])
    assert "Conv" in [n["op"] for n in first["after"]] and again["written_by"] == "up0_1_node"
    assert "The rewrite of 'up0_1_node' wrote this node" in text


def test_verify_and_sizes_pages_and_rendering_a_saved_report(tmp_path):
    page = tmp_path / "v.html"
    code, _, _ = run_cli(["verify", "example:gan3d", "example:gan3d", "--html", str(page)])
    assert code == 0 and Page(page.read_text()).svgs == 3               # one histogram per run
    assert "<title>onnxport verify: example:gan3d vs example:gan3d</title>" in page.read_text()   # what it compared
    sizes = tmp_path / "s.html"
    code, _, _ = run_cli(["sizes", "example:unet3d", "--html", str(sizes), "--json", str(tmp_path / "s.json")])
    parsed = Page(sizes.read_text())
    assert code == 0 and parsed.svgs == 2 * len([s for s in parsed.sections if s["class"] == "axis"]) > 0
    again = tmp_path / "again.html"
    code, stdout, _ = run_cli(["report", str(tmp_path / "s.json"), "--html", str(again)])
    assert code == 0 and again.read_text() == sizes.read_text()
    assert "<h1>onnxport sizes: example:unet3d</h1>" in sizes.read_text()


def test_bad_report_inputs_are_one_line_errors_and_write_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": 2}')
    for path, message in ((bad, "not an onnxport convert, verify or sizes report"),
                          (tmp_path / "missing.json", "no such file")):
        code, _, err = run(capsys, "report", path, "--html", tmp_path / "p.html")
        assert_one_line_error(code, err)
        assert message in err
    code, _, err = run(capsys, "convert", "example:gan3d", "-o", tmp_path / "o.onnx", "--html", tmp_path / "o.onnx")
    assert code == 2 and "o.onnx" in err
    assert not (tmp_path / "p.html").exists() and not (tmp_path / "o.onnx").exists()


def test_every_summary_closes_what_it_opens(tmp_path):
    """convert's and strip-sizes' summaries once cut the verification's line at its first ';', inside the
    parenthesised list of sizes."""
    converted = api.convert("example:gan3d", tmp_path / "g.onnx")
    freed = api.strip_sizes("example:ddae", tmp_path / "d.onnx")
    for summary in (converted.summary(), freed.summary(), converted.verification.summary()):
        assert summary.count("(") == summary.count(")") and summary.count("[") == summary.count("]"), summary
    assert "equivalent on 3 run(s), worst max|a-b| = " in converted.summary()


@pytest.fixture(scope="module")
def real_reports(tmp_path_factory) -> dict:
    """A real report of each kind, made once, to be broken."""
    folder = tmp_path_factory.mktemp("reports")
    found = {}
    for kind, argv in (("sizes", ["sizes", "example:ddae"]), ("verify", ["verify", "example:gan3d", "example:gan3d"]),
                       ("convert", ["convert", "example:gan3d", "-o", str(folder / "g.onnx")])):
        assert cli.main(argv + ["--json", str(folder / f"{kind}.json")]) == 0
        found[kind] = (folder / f"{kind}.json").read_text()
    return found


def _crafted(reports: dict, kind: str) -> dict:
    return json.loads(reports[kind])


def _set(data, path, value):
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value
    return value


CRAFTED = [  # (report, where, value): each once gave a traceback
    ("sizes", ("axes", 1, "runs", "period"), 0),
    ("sizes", ("axes", 1, "exported"), "157"),
    ("sizes", ("axes", 1, "axis"), "\ud800"),
    ("verify", ("runs", 0, "outputs", 0, "histogram", "counts", 3), -5),
    ("verify", ("runs", 0, "outputs", 0, "histogram", "edges", 2), "12"),
    ("verify", ("runs", 0, "outputs", 0, "max_abs_error"), "0.1"),
    ("convert", ("verification", "runs", 0, "outputs", 0, "bound"), None),
    ("convert", ("macs", "before"), "many"),
]


@pytest.mark.parametrize("kind, where, value", CRAFTED)
def test_a_crafted_report_is_one_line_or_a_page_never_a_traceback(tmp_path, capsys, real_reports, kind, where, value):
    data = _crafted(real_reports, kind)
    _set(data, where, value)
    path = tmp_path / "crafted.json"
    path.write_text(json.dumps(data))
    code, _, err = run(capsys, "report", path, "--html", tmp_path / "p.html")
    if code == 0:
        assert (tmp_path / "p.html").exists()
    else:
        assert_one_line_error(code, err)
        assert "not an onnxport convert, verify or sizes report" in err and not (tmp_path / "p.html").exists()


def test_a_crafted_report_gives_a_bounded_page_in_bounded_time(tmp_path, capsys, real_reports):
    """100,000-deep nesting, axes exported at 2^31-1 (a dot per size: 20,000 such axes took > 3 GB), a
    10,000-node rewrite (a quadratic layout): one line, or a page of bounded size, each in seconds."""
    deep = tmp_path / "deep.json"
    deep.write_text('{"axes": ' + "[" * 100_000 + "]" * 100_000 + "}")
    code, _, err = run(capsys, "report", deep, "--html", tmp_path / "deep.html")
    assert_one_line_error(code, err)
    assert "nested too deeply" in err
    sizes = _crafted(real_reports, "sizes")
    sizes["axes"] = [dict(sizes["axes"][1], exported=2**31 - 1) for _ in range(2_000)]
    converted = _crafted(real_reports, "convert")
    chain = [{"name": f"n{i}", "op": "Conv", "inputs": [{"name": f"t{i}", "shape": [1, 2], "constant": False}],
              "outputs": [{"name": f"t{i + 1}", "shape": [1, 2]}]} for i in range(10_000)]
    converted["rewrites"]["rewritten"][0]["after"] = chain
    for name, data, bound in (("axes", sizes, 32 << 20), ("chain", converted, 1 << 20)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(data))
        start = time.perf_counter()
        code, _, err = run(capsys, "report", path, "--html", tmp_path / f"{name}.html")
        assert code == 0, err
        assert time.perf_counter() - start < 30 and (tmp_path / f"{name}.html").stat().st_size < bound
    page = (tmp_path / "axes.html").read_text()
    assert "1,500 more axes not shown" in page and "exported 2147483647 (off the line)" in page
    assert "10,000 nodes: too many to draw" in (tmp_path / "chain.html").read_text()


def test_sizes_of_an_input_exported_at_2_31_stays_small(tmp_path, capsys):
    """An 85-byte model whose input is 2^31-1 long: the size probe once fed it zeros of that length (24 GB)."""
    from onnx import TensorProto, helper
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2**31 - 1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 2**31 - 1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    import onnx
    onnx.save(model, str(tmp_path / "long.onnx"))
    code, out, err, peak_mib = cli_with_peak("sizes", tmp_path / "long.onnx", "--html", tmp_path / "long.html")
    assert code == 0, err
    assert "exported at 2147483647" in out and (tmp_path / "long.html").stat().st_size < 1 << 20
    assert peak_mib < 512


def browser(page: Path, screenshot: Path) -> tuple[dict, str, float]:
    """Load the page in headless Chromium: what a probe script measured (SVG sizes), the console's log
    lines, and the seconds it took; and a screenshot."""
    probe = page.with_name("probe.html")
    script = ("<script>window.addEventListener('load',()=>{const s=[...document.querySelectorAll('svg')]"
              ".map(e=>{const r=e.getBoundingClientRect();return [r.width,r.height]});"
              "const t=document.body.innerText;"
              "const p=document.createElement('pre');p.id='probe';p.textContent=JSON.stringify({svgs:s,text:t});"
              "document.body.appendChild(p);});</script>")
    probe.write_text(page.read_text().replace("</body>", script + "</body>"))
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0"]
    start = time.perf_counter()
    done = subprocess.run(flags + ["--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
                          capture_output=True, text=True, timeout=120)
    seconds = time.perf_counter() - start
    subprocess.run(flags + ["--window-size=1400,1800", f"--screenshot={screenshot}", page.as_uri()],
                   capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert found, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    return json.loads(found.group(1).replace("&quot;", '"')), "\n".join(console), seconds


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs Debian's chromium)")
def test_the_page_renders_in_chromium_without_console_errors(tmp_path):
    _, _ = convert_report(tmp_path)
    measured, console, _ = browser(tmp_path / "r.html", tmp_path / "unet3d.png")
    assert measured["svgs"] and all(w > 0 and h > 0 for w, h in measured["svgs"])
    assert console == ""
    assert (tmp_path / "unet3d.png").stat().st_size > 10_000


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs Debian's chromium)")
def test_chromium_shows_what_violates_a_target_its_fix_the_legend_and_what_a_rewrite_took_in(tmp_path):
    """Issue 23's page items as a reader sees them (the rendered text, not the markup): a failed target's
    page names the node, why and the --fix-sizes that fixes it; the pictures' tags have their legend; a
    rewrite that took a Relu in says so."""
    from onnxport.models import convtranspose
    code, _, _ = run_cli(["convert", "example:gan3d", "-o", str(tmp_path / "o.onnx"), "--target", "opencv",
                          "--html", str(tmp_path / "failed.html")])
    assert code == 1
    onnx.save(convtranspose.build([4, 4, 4], 8, 8, [2, 2, 2], strides=[2, 2, 2], consumer="Relu+GlobalAveragePool"),
              str(tmp_path / "layer.onnx"))
    code, _, _ = run_cli(["convert", str(tmp_path / "layer.onnx"), "-o", str(tmp_path / "l.onnx"),
                          "--html", str(tmp_path / "layer.html")])
    assert code == 0
    failed, console, _ = browser(tmp_path / "failed.html", tmp_path / "failed.png")
    assert console == ""
    assert "Still violating the target" in failed["text"] and "--fix-sizes z=1x32x1x1x1 reaches it" in failed["text"]
    assert "symbolic sizes" in failed["text"] and "dynamic zero shapes are not supported" in failed["text"]
    layer, console, _ = browser(tmp_path / "layer.html", tmp_path / "layer.png")
    assert console == "" and "r5: that output's rank" in layer["text"] and "+2c: the constant inputs" in layer["text"]
    assert "The rewrite took in Relu 'relu_1_node'" in layer["text"]


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs Debian's chromium)")
def test_a_3000_node_model_gives_a_small_page_that_renders_quickly(tmp_path):
    src = large_unet3d.write(tmp_path, widths=(4, 8, 8, 16))
    loaded_nodes = len(__import__("onnx").load(str(src), load_external_data=False).graph.node)
    assert loaded_nodes >= 3000
    page = tmp_path / "big.html"
    code, stdout, _ = run_cli(["convert", str(src), "-o", str(tmp_path / "big_port.onnx"), "--html", str(page),
                               "--shape", "X=1x1x8x8x8", "--runs", "1"])
    assert code == 0, stdout
    assert page.stat().st_size < 3 * 2**20
    measured, console, seconds = browser(page, tmp_path / "big.png")
    assert measured["svgs"] and all(w > 0 and h > 0 for w, h in measured["svgs"]) and console == ""
    assert seconds < 15


HOSTILE = ["<script>document.title='pwned'</script>", "</svg><img src=x onerror=\"document.title='pwned'\">",
           "\"><svg onload=\"document.title='pwned'\">", "javascript:document.title='pwned'"]


def hostile_model(path: Path) -> Path:
    """example:gan3d with every free-text field a page might show (node names, graph name, doc strings,
    producer, metadata) set to markup that runs script if it is not escaped."""
    import onnx
    from onnxport.models import examples
    model = examples.build("gan3d")
    for i, node in enumerate(model.graph.node):
        node.name = HOSTILE[i % len(HOSTILE)] + str(i)
        node.doc_string = HOSTILE[(i + 1) % len(HOSTILE)]
    model.graph.name, model.graph.doc_string, model.doc_string = HOSTILE[0], HOSTILE[1], HOSTILE[2]
    model.producer_name, model.producer_version = HOSTILE[3], HOSTILE[1]
    onnx.helper.set_model_props(model, {HOSTILE[1]: HOSTILE[0]})
    onnx.save(model, str(path))
    return path


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs Debian's chromium)")
def test_markup_in_a_models_names_changes_nothing_in_the_pages(tmp_path):
    """Every name a page shows is escaped: in headless Chromium the title stays the page's own, no element
    from the model's text appears, and no link has a scheme."""
    src = hostile_model(tmp_path / "hostile.onnx")
    pages = {"convert": tmp_path / "c.html", "verify": tmp_path / "v.html", "sizes": tmp_path / "s.html"}
    assert run_cli(["convert", str(src), "-o", str(tmp_path / "o.onnx"), "--html", str(pages["convert"])])[0] == 0
    assert run_cli(["verify", str(src), str(tmp_path / "o.onnx"), "--html", str(pages["verify"])])[0] == 0
    assert run_cli(["sizes", str(src), "--html", str(pages["sizes"])])[0] == 0
    for what, page in pages.items():
        own_title = re.search(r"<title>(.*?)</title>", page.read_text(), re.S).group(1)
        done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=3000",
                               "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
        dom = done.stdout
        title = re.search(r"<title>(.*?)</title>", dom, re.S)
        assert title and "pwned" not in title.group(1) and title.group(1) == own_title, (what, title)
        assert not re.search(r"<img\b|<svg onload|<script>document", dom), what        # as text, never as markup
        assert not re.search(r'href="(?!#)[a-z]+:', dom), what


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs Debian's chromium)")
def test_a_crafted_report_and_a_scheme_like_output_name_run_no_script(tmp_path, monkeypatch):
    """`report` escapes every field of a report it is given (a sizes report whose axis is markup), and an
    output named javascript:... is linked as a file name, never as a scheme."""
    monkeypatch.chdir(tmp_path)
    assert run_cli(["sizes", "example:unet3d", "--json", "s.json"])[0] == 0
    report = json.loads((tmp_path / "s.json").read_text())
    report["axes"][0]["axis"] = "<img src=x onerror=\"document.title='pwned'\">"
    (tmp_path / "s.json").write_text(json.dumps(report))
    assert run_cli(["report", "s.json", "--html", "s.html"])[0] == 0
    scheme = "javascript:document.title='pwned'"
    assert run_cli(["convert", "example:gan3d", "-o", scheme, "--html", "c.html"])[0] == 0
    for page in ("s.html", "c.html"):
        done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=3000",
                               "--dump-dom", (tmp_path / page).as_uri()], capture_output=True, text=True, timeout=120)
        assert "pwned" not in re.search(r"<title>(.*?)</title>", done.stdout, re.S).group(1), page
        assert not re.search(r"<img\b", done.stdout) and not re.search(r'href="[a-z]+:', done.stdout), page
