"""The attack classes of issue 24, thrown at the command line as a user's shell would, with totals.

    python benchmarks/attack_sweep.py [--quick] [--workdir DIR]

Classes: write targets (devices, FIFOs, links that lead nowhere, OUT.data as another output, the input
itself, names too long or naming folders), concurrency (writers of one OUT with external data), signals
per phase (SIGINT/SIGTERM/SIGHUP from 0 to 3 s into a conversion), caches (poisoned, a FIFO, a cache named
like the input's weights), saved inputs (set numbers far apart, a deflated 8 GiB npz, complex, batch 0),
crafted reports (mutated fields of real reports), deep and wide graphs (500 ConvTranspose3d in a chain,
a 20,000-node graph), runtime workers (a model allocating 2.8 GiB under --max-memory 64M; onnxport
killed mid-session). A full disk is not made here (no file system to fill without privileges): the test
suite makes every write fail with ENOSPC instead (tests/cli/test_write_contract.py).

Each case checks the contract: no traceback (a signal that lands while Python itself starts, before
onnxport's first line runs, ends it by Python's own rules: the default action, or a traceback in site's
imports that names no onnxport file; those are counted apart, nothing is open then); no hang (60 s, 300 s for the deep graph); on an error exit,
nothing written (every file of the case's folder as it was, no temporary left); the inputs unchanged,
byte for byte, always. It prints one line per class and the totals; exit 1 if any case broke it.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import external_data_helper

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from onnxport.models import convtranspose, examples  # noqa: E402
from tests.converter.test_verify import constant_allocation  # noqa: E402

CLI = [sys.executable, "-m", "onnxport"]          # what the console script runs
TIMEOUT = 60


@dataclass
class Totals:
    cases: int = 0
    tracebacks: list = field(default_factory=list)
    hangs: list = field(default_factory=list)
    written_on_error: list = field(default_factory=list)
    changed_inputs: list = field(default_factory=list)
    other: list = field(default_factory=list)
    startup: list = field(default_factory=list)     # signalled while Python itself started: its traceback, not ours

    def broken(self) -> int:
        return sum(len(v) for v in (self.tracebacks, self.hangs, self.written_on_error, self.changed_inputs, self.other))


def digest(folder: Path) -> dict:
    found = {}
    for root, dirs, files in os.walk(folder):
        for name in files + dirs:
            path = Path(root) / name
            if path.is_symlink():
                found[str(path.relative_to(folder))] = "-> " + os.readlink(path)
            elif path.is_file():
                found[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
            elif not path.is_dir():
                found[str(path.relative_to(folder))] = "special"
    return found


def run_case(totals: Totals, label: str, argv: list, folder: Path, inputs: list[Path], *, env: dict | None = None,
             timeout: float = TIMEOUT, stop: tuple[float, int] | None = None) -> subprocess.CompletedProcess | None:
    """One command; `stop`: (seconds, signal) sent to it that long after it starts."""
    totals.cases += 1
    before_inputs = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in inputs if p.is_file()}
    before = digest(folder)
    process = subprocess.Popen(CLI + [str(a) for a in argv], cwd=folder, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    if stop is not None:
        time.sleep(stop[0])
        process.send_signal(stop[1])
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        totals.hangs.append(label)
        return None
    if "Traceback" in err or "Traceback" in out:
        if stop is not None and str(ROOT) not in err:   # no frame of onnxport's: Python's own start-up
            totals.startup.append(label)
        else:
            totals.tracebacks.append(f"{label}: {err.strip().splitlines()[-1] if err.strip() else out[-200:]}")
    if process.returncode == 2 and err.count("\n") != 1:
        totals.other.append(f"{label}: exit 2 with {err.count(chr(10))} lines on stderr")
    if process.returncode not in (0, 1):
        after = digest(folder)
        if after != before:
            changed = sorted(k for k in set(after) | set(before) if after.get(k) != before.get(k))
            totals.written_on_error.append(f"{label}: {changed[:4]}")
    for path, hashed in before_inputs.items():
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != hashed:
            totals.changed_inputs.append(f"{label}: {path.name}")
    return subprocess.CompletedProcess(argv, process.returncode, out, err)


def fresh(workdir: Path, name: str) -> tuple[Path, Path, Path]:
    """A folder with a dynamic model (a.onnx) and one with external data (w.onnx + w.onnx.data)."""
    folder = workdir / name
    folder.mkdir(parents=True)
    onnx.save(convtranspose.build(["D", "H", "W"], kernel=[2, 2, 2], strides=[2, 2, 2], batch="N"), str(folder / "a.onnx"))
    model = convtranspose.build([4, 4, 4], kernel=[2, 2, 2], strides=[2, 2, 2], cin=8, cout=8)
    external_data_helper.convert_model_to_external_data(model, location="w.onnx.data", size_threshold=0)
    onnx.save(model, str(folder / "w.onnx"))
    return folder, folder / "a.onnx", folder / "w.onnx"


def write_targets(workdir: Path, totals: Totals, quick: bool) -> None:
    targets = [["-o", "fifo", "--force"], ["-o", "x.onnx", "--json", "fifo", "--force"], ["-o", "dangling.onnx"],
               ["-o", "dd.onnx", "--force"], ["-o", "l1", "--force"], ["-o", "dir", "--force"], ["-o", "dir/"],
               ["-o", "newname/."], ["-o", "missing/x.onnx"], ["-o", "n" * 300 + ".onnx"],
               ["-o", "x.onnx", "--html", "x.onnx.data", "--force"], ["-o", "x.onnx", "--json", "x.onnx.data", "--force"],
               ["-o", "w.onnx", "--force"], ["-o", "w.onnx.data", "--force"], ["-o", "x.onnx", "--json", "w.onnx.data", "--force"],
               ["-o", "x.onnx", "--json", "/dev/null", "--force"], ["-o", "/dev/full", "--force"], ["-o", "x.onnx", "--json", "a.onnx"]]
    for i, target in enumerate(targets[:8] if quick else targets):
        for source in ("a.onnx", "w.onnx"):
            folder, a, w = fresh(workdir, f"targets{i}{source}")
            os.mkfifo(folder / "fifo")
            os.symlink("nowhere", folder / "dangling.onnx")
            os.symlink("nowhere", folder / "dd.onnx.data")
            os.symlink("l2", folder / "l1")
            os.symlink("l1", folder / "l2")
            (folder / "dir").mkdir()
            inputs = [a] if source == "a.onnx" else [w, folder / "w.onnx.data"]
            run_case(totals, f"write target {target} <- {source}", ["convert", source, *target], folder, inputs)


def concurrency(workdir: Path, totals: Totals, quick: bool) -> None:
    folder = workdir / "concurrency"
    folder.mkdir()
    inputs = []
    for seed in range(5):
        model = convtranspose.build([4, 4, 4], kernel=[2, 2, 2], strides=[2, 2, 2], cin=8, cout=8, seed=seed)
        external_data_helper.convert_model_to_external_data(model, location=f"in{seed}.onnx.data", size_threshold=0)
        onnx.save(model, str(folder / f"in{seed}.onnx"))
        inputs.append(folder / f"in{seed}.onnx")
    import onnxruntime as ort
    x = np.random.default_rng(0).standard_normal((1, 8, 4, 4, 4)).astype(np.float32)

    def outputs(path):
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(None, {"X": x})[0]
    expected = [outputs(p) for p in inputs]
    for trial in range(2 if quick else 6):
        totals.cases += 1
        runs = [subprocess.Popen(CLI + ["convert", str(p), "-o", str(folder / "out.onnx"), "--force", "--no-verify"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for p in inputs]
        codes = [p.wait(timeout=300) for p in runs]
        errors = [p.stderr.read() for p in runs]
        if any("Traceback" in e for e in errors):
            totals.tracebacks.append(f"concurrency trial {trial}")
        if codes != [0] * 5:
            totals.other.append(f"concurrency trial {trial}: exits {codes}")
        got = outputs(folder / "out.onnx")
        if sum(np.array_equal(got, e) for e in expected) != 1:
            totals.other.append(f"concurrency trial {trial}: a mixed model/weights pair was published")
        if [n for n in os.listdir(folder) if n.startswith(".onnxport-")]:
            totals.written_on_error.append(f"concurrency trial {trial}: temporaries left")


def signals(workdir: Path, totals: Totals, quick: bool) -> None:
    folder, a, w = fresh(workdir, "signals")
    delays = (0.0, 0.05, 0.2, 0.6, 1.2) if quick else (0.0, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.9, 1.2, 1.6, 2.0, 2.5, 3.0)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        for delay in delays:
            out = folder / "sig.onnx"
            result = run_case(totals, f"{signum.name} at {delay} s", ["convert", "example:unet3d", "-o", out, "--json",
                                                                       folder / "sig.json", "--html", folder / "sig.html"],
                              folder, [a, w], stop=(delay, signum))
            # -signum: stopped by the signal itself while Python started, before any onnxport code ran
            if result is not None and result.returncode not in (0, 128 + signum, -signum) and \
                    not (totals.startup and totals.startup[-1].startswith(f"{signum.name} at {delay} s")):
                totals.other.append(f"{signum.name} at {delay} s: exit {result.returncode}")
            if result is not None and result.returncode == 128 + signum and \
                    result.stderr != f"onnxport: interrupted ({signum.name}); nothing written\n":
                totals.other.append(f"{signum.name} at {delay} s: said {result.stderr[-120:]!r}")
            for name in ("sig.onnx", "sig.json", "sig.html"):
                if (folder / name).exists():
                    (folder / name).unlink()


def caches(workdir: Path, totals: Totals, quick: bool) -> None:
    folder, a, w = fresh(workdir, "caches")
    cache = folder / "cache"
    cache.mkdir()
    poisons = ['{"entries": {"k": {"strategy": "rm -rf", "timings_ms": {"a": "x"}}}}', "[" * 100_000 + "]" * 100_000,
               '{"entries": [1, 2, 3]}', "not json", '{"entries": {"k": {"strategy": "subpixel", "timings_ms": {"subpixel": NaN}}}}']
    argv = ["convert", "example:gan3d", "-o", folder / "c.onnx", "--strategy", "auto", "--force"]
    for i, poison in enumerate(poisons[:2] if quick else poisons):
        (cache / "auto_strategy.json").write_text(poison)
        run_case(totals, f"poisoned cache {i}", argv, folder, [a, w], env={"ONNXPORT_CACHE_DIR": str(cache)})
    (cache / "auto_strategy.json").unlink()
    os.mkfifo(cache / "auto_strategy.json")
    run_case(totals, "cache is a FIFO", argv, folder, [a, w], env={"ONNXPORT_CACHE_DIR": str(cache)})
    (cache / "auto_strategy.json").unlink()
    weights = folder / "w.onnx.data"                 # the input's own weights named like the cache file
    shutil.copy(weights, folder / "auto_strategy.json")
    run_case(totals, "cache named like the input's weights", ["convert", w, "-o", folder / "c.onnx", "--strategy",
                                                                "auto", "--force"], folder, [w, folder / "auto_strategy.json"],
             env={"ONNXPORT_CACHE_DIR": str(folder)})


def saved_inputs(workdir: Path, totals: Totals, quick: bool) -> None:
    import io
    import zipfile
    folder, a, w = fresh(workdir, "saved")
    np.savez(folder / "keys.npz", **{"z/0": np.zeros((1, 32, 1, 1, 1), np.float32), "z/99999999": np.zeros((1, 32, 1, 1, 1), np.float32)})
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (1, 32, 1 << 26)})
    with zipfile.ZipFile(folder / "bomb.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("z.npy", "w", force_zip64=True) as member:
            member.write(header.getvalue())
            member.write(b"\0" * (16 << 20))
    np.savez(folder / "complex.npz", z=np.ones((1, 32, 1, 1, 1), np.complex64))
    np.savez(folder / "empty.npz", z=np.zeros((0, 32, 1, 1, 1), np.float32))
    np.savez(folder / "wrong.npz", z=np.zeros((1, 3), np.float32))
    (folder / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (folder / "junk.npz").write_bytes(os.urandom(4096))
    for name in ("keys.npz", "bomb.npz", "complex.npz", "empty.npz", "wrong.npz", "deep.json", "junk.npz"):
        result = run_case(totals, f"saved inputs {name}", ["verify", "example:gan3d", "example:gan3d", "--inputs",
                                                           folder / name, "--json", folder / "v.json"],
                          folder, [folder / name])
        if result is not None and result.returncode != 2:
            totals.other.append(f"saved inputs {name}: exit {result.returncode}")


def crafted_reports(workdir: Path, totals: Totals, quick: bool) -> None:
    folder, a, w = fresh(workdir, "reports")
    for kind, argv in (("sizes", ["sizes", "example:ddae"]), ("verify", ["verify", "example:gan3d", "example:gan3d"]),
                       ("convert", ["convert", "example:gan3d", "-o", folder / "g.onnx"])):
        subprocess.run(CLI + [str(x) for x in argv] + ["--json", str(folder / f"{kind}.json")], check=True,
                       capture_output=True)
    bases = {kind: json.loads((folder / f"{kind}.json").read_text()) for kind in ("sizes", "verify", "convert")}
    rng = random.Random(24)
    values = ["12", -5, 0, -1, 10**12, 1.5, None, "\ud800", [], {}, True, 2**31 - 1, [[[[]]]]]

    def paths(x, at=()):
        yield at
        if isinstance(x, dict):
            for k, v in x.items():
                yield from paths(v, at + (k,))
        elif isinstance(x, list):
            for i, v in enumerate(x[:20]):
                yield from paths(v, at + (i,))
    for case in range(20 if quick else 120):
        kind = rng.choice(sorted(bases))
        data = json.loads(json.dumps(bases[kind]))
        where = rng.choice(list(paths(data))[1:])
        target = data
        for key in where[:-1]:
            target = target[key]
        target[where[-1]] = rng.choice(values)
        crafted = folder / "crafted.json"
        crafted.write_text(json.dumps(data))
        run_case(totals, f"crafted {kind} report {where}", ["report", crafted, "--html", folder / "crafted.html", "--force"],
                 folder, [crafted])
        if (folder / "crafted.html").exists() and (folder / "crafted.html").stat().st_size > 64 << 20:
            totals.other.append(f"crafted {kind} report {where}: a page of {(folder / 'crafted.html').stat().st_size} bytes")


def deep_and_wide(workdir: Path, totals: Totals, quick: bool) -> None:
    from onnx import TensorProto, helper, numpy_helper
    folder = workdir / "graphs"
    folder.mkdir()
    nodes, weights = [], []
    depth = 100 if quick else 500
    for i in range(depth):
        weights.append(numpy_helper.from_array(np.full((1, 1, 1, 1, 1), 1.0, np.float32), f"w{i}"))
        nodes.append(helper.make_node("ConvTranspose", [f"t{i}", f"w{i}"], [f"t{i + 1}"], kernel_shape=[1, 1, 1]))
    graph = helper.make_graph(nodes, "deep", [helper.make_tensor_value_info("t0", TensorProto.FLOAT, [1, 1, 2, 2, 2])],
                              [helper.make_tensor_value_info(f"t{depth}", TensorProto.FLOAT, [1, 1, 2, 2, 2])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(folder / "deep.onnx"))
    width = 2000 if quick else 20_000
    wide = helper.make_graph([helper.make_node("Relu", ["x"], [f"r{i}"]) for i in range(width)] +
                             [helper.make_node("Sum", [f"r{i}" for i in range(width)], ["y"])], "wide",
                             [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
                             [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])])
    wide_model = helper.make_model(wide, opset_imports=[helper.make_opsetid("", 17)])
    wide_model.ir_version = 8
    onnx.save(wide_model, str(folder / "wide.onnx"))
    for name in ("deep.onnx", "wide.onnx"):
        for argv in (["convert", folder / name, "-o", folder / f"out_{name}", "--force"], ["inspect", folder / name],
                     ["sizes", folder / name]):
            run_case(totals, f"{argv[0]} {name}", argv, folder, [folder / name], timeout=300)


def runtime_workers(workdir: Path, totals: Totals, quick: bool) -> None:
    from onnxport.converter import runtimes
    from onnxport.errors import BadArgument
    folder = workdir / "workers"
    folder.mkdir()
    onnx.save(constant_allocation(1000), str(folder / "small.onnx"))
    onnx.save(constant_allocation(750_000_000), str(folder / "heavy.onnx"))
    for name in ("openvino", "tract", "mnn", "opencv"):
        try:
            runtimes.info(name)
        except BadArgument:
            continue
        result = run_case(totals, f"{name} worker over --max-memory 64M", ["verify", folder / "small.onnx",
                          folder / "heavy.onnx", "--runtime", name, "--max-memory", "64M"], folder,
                          [folder / "small.onnx", folder / "heavy.onnx"])
        if result is not None and "it may (twice --max-memory" not in result.stdout:
            totals.other.append(f"{name} worker over --max-memory 64M: not stopped at its bound ({result.stdout[-160:]!r})")
        totals.cases += 1                      # onnxport killed mid-session: the worker and its folder go too
        process = subprocess.Popen(CLI + ["verify", "example:unet3d", "example:unet3d", "--runtime", name, "--runs", "3"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(2.5)
        children = _children(process.pid)
        process.kill()
        process.wait()
        time.sleep(3)
        alive = [pid for pid in children if Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid)]
        if alive:
            totals.other.append(f"{name}: worker {alive} outlived onnxport killed with SIGKILL")
            for pid in alive:
                os.kill(pid, signal.SIGKILL)


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (OSError, IndexError):
        return "zombie"


CLASSES = [write_targets, concurrency, signals, caches, saved_inputs, crafted_reports, deep_and_wide, runtime_workers]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer cases per class (about 2 minutes)")
    parser.add_argument("--workdir", help="where the cases' folders go (default: a temporary folder, removed)")
    args = parser.parse_args()
    print(f"attack sweep: load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir or tmp)
        grand = Totals()
        for attack in CLASSES:
            totals, start = Totals(), time.perf_counter()
            attack(workdir, totals, args.quick)
            print(f"  {attack.__name__:16s} {totals.cases:4d} cases  {totals.broken()} broken  "
                  f"({time.perf_counter() - start:.0f} s)")
            for kind in ("tracebacks", "hangs", "written_on_error", "changed_inputs", "other", "startup"):
                for line in getattr(totals, kind):
                    print(f"    {kind}: {line}")
                getattr(grand, kind).extend(getattr(totals, kind))
            grand.cases += totals.cases
    print(f"attack sweep: {grand.cases} cases, {len(grand.tracebacks)} tracebacks, {len(grand.hangs)} hangs, "
          f"{len(grand.written_on_error)} writes on error, {len(grand.changed_inputs)} changed inputs, "
          f"{len(grand.other)} other; {len(grand.startup)} signal(s) landed in Python's own start-up, before "
          f"onnxport's first line (Python printed its traceback)")
    return 1 if grand.broken() else 0


if __name__ == "__main__":
    sys.exit(main())
