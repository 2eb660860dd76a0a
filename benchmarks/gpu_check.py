"""The CUDA proof, in sections, each time-boxed; run by benchmarks/gpu_check.sh in a fresh venv.

    python benchmarks/gpu_check.py --out DIR [--budget-s 420] [--quick] [--rehearse-on-cpu]

Sections: `version` (onnxport --version: the provider and, where CUDA does not load, the loader's reason),
`tests` (the suite's CUDA-marked tests), `verify` (every example and every zoo net's primary export:
`verify --provider cuda` of the original against its default conversion, and `verify --against-provider
cpu` of the original, CUDA against CPU), `bench` (benchmarks/bench_convtranspose.py --provider cuda).
A CUDA section on a machine where CUDA does not load reports "CUDA unavailable: <reason>" and runs
nothing; --rehearse-on-cpu runs the verify and bench sections on the CPU instead (the same commands with
--provider cpu, no CUDA-vs-CPU column), so a CPU-only CI exercises every step the GPU day will take.
Writes DIR/gpu_check.json and DIR/gpu_check.md.

Tolerances on the GPU are the CPU's (max|a-b| <= 1e-4 + 1e-4*max|a|): onnxport's CUDA sessions turn TF32
off (converter.verification.sessions.CUDA_OPTIONS), so cuDNN computes in float32 and only the order of summation
differs from the CPU's, which is what the default bound already admits for the CPU's own kernels.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))           # tests.zoo: the zoo's manifest
CUDA_LOADED = "provider: CUDAExecutionProvider"


def run(args: list[str], timeout_s: float) -> dict:
    """One command: exit code (124 on timeout), seconds, its last stderr line and its stdout."""
    start = time.perf_counter()
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=max(timeout_s, 1), cwd=ROOT)
        code, out, err = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as e:
        code, out, err = 124, e.stdout or "", f"timed out after {timeout_s:.0f} s"
        out, err = out.decode(errors="replace") if isinstance(out, bytes) else out, err
    lines = [line for line in err.splitlines() if line.strip()]
    return {"code": code, "seconds": round(time.perf_counter() - start, 1), "stdout": out,
            "last_error": lines[-1][:300] if lines else ""}


def onnxport(*args: str) -> list[str]:
    return [sys.executable, "-m", "onnxport.cli", *args]


def cuda_reason(version_text: str) -> str | None:
    """None where the CUDA provider loads; else the reason `onnxport --version` gives."""
    if CUDA_LOADED in version_text:
        return None
    for line in version_text.splitlines():
        if line.startswith("provider:"):
            return line.split("(CUDA: ", 1)[-1][:-1] if "(CUDA: " in line else line
    return "onnxport --version names no provider"


def sources(quick: bool) -> list[str]:
    from onnxport.models import examples
    from tests import zoo
    found = [f"example:{name}" for name in sorted(examples.EXAMPLES)]
    found += [str(zoo.FIXTURES / f) for _, _, f in zoo.PRIMARY]
    return found[:3] if quick else found


def verify_rows(deadline: float, quick: bool, tmp: Path, provider: str) -> list[dict]:
    """Per model: the conversion on `provider` against the original, and (on CUDA) the original on CUDA
    against CPU."""
    rows = []
    for source in sources(quick):
        name = Path(source).name
        converted = tmp / f"{name.replace(':', '_')}.converted.onnx"
        made = run(onnxport("convert", source, "-o", str(converted), "--no-verify", "--force"), deadline - time.time())
        row = {"model": name, "converted": made["code"]}
        checks = [("conversion", ["verify", source, str(converted), "--provider", provider])]
        if provider == "cuda":
            checks.append(("cuda_vs_cpu", ["verify", source, "--provider", "cuda", "--against-provider", "cpu"]))
        for key, args in checks:
            if key == "conversion" and made["code"] != 0:
                row[key] = {"code": None, "why": f"convert failed: {made['last_error']}"}
                continue
            result = run(onnxport(*args, "--json", "-"), deadline - time.time())
            row[key] = {"code": result["code"], "seconds": result["seconds"], **_worst(result)}
        rows.append(row)
        if time.time() > deadline:
            rows.append({"model": "(time box reached)", "converted": None})
            break
    return rows


def _worst(result: dict) -> dict:
    try:
        report = json.loads(result["stdout"])
    except json.JSONDecodeError:
        return {"why": result["last_error"]}
    worst = report.get("summary", "").split("worst ", 1)[-1].split(" (bound")[0]
    return {"worst": worst, "provider": report.get("provider"), "ok": report.get("ok")}


def section(name: str, reason: str | None, work) -> dict:
    """Run a CUDA section, or say why it cannot run here."""
    if reason is not None:
        print(f"[{name}] CUDA unavailable: {reason}", flush=True)
        return {"status": f"CUDA unavailable: {reason}"}
    start = time.time()
    found = work()
    print(f"[{name}] done in {time.time() - start:.0f} s", flush=True)
    return {"status": f"ran in {time.time() - start:.0f} s", **found}


def markdown(results: dict) -> str:
    lines = ["# gpu_check", "", "onnxport --version:", "", "```", results["version"].strip(), "```", ""]
    for name in ("tests", "verify", "bench"):
        lines += [f"## {name}", "", results[name]["status"], ""]
    for row in results["verify"].get("rows", []):
        if row == results["verify"]["rows"][0]:
            lines += [f"| model | converted on {results['provider']}: exit, worst | CUDA vs CPU: exit, worst |",
                      "|---|---|---|"]
        cells = [f"{row[k].get('code')}, {row[k].get('worst', row[k].get('why', ''))}".replace("|", "\\|")
                 if k in row else "-" for k in ("conversion", "cuda_vs_cpu")]
        lines.append(f"| {row['model']} | {cells[0]} | {cells[1]} |")
    if "output" in results["bench"]:
        lines += ["", "```", results["bench"]["output"].strip(), "```"]
    if "output" in results["tests"]:
        lines += ["", "```", results["tests"]["output"].strip()[-3000:], "```"]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--budget-s", type=float, default=420, help="the whole run's time box (sections share it)")
    ap.add_argument("--quick", action="store_true", help="three models, a short benchmark")
    ap.add_argument("--rehearse-on-cpu", action="store_true", help="run verify and bench on the CPU")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    deadline = time.time() + args.budget_s
    version = run(onnxport("--version"), 60)["stdout"]
    print(version.strip(), flush=True)
    reason = cuda_reason(version)
    provider = "cpu" if args.rehearse_on_cpu else "cuda"
    results = {"version": version, "cuda": reason is None, "reason": reason, "provider": provider}
    results["tests"] = section("tests", reason, lambda: _tests(deadline))
    reason = None if args.rehearse_on_cpu else reason
    with tempfile.TemporaryDirectory() as tmp:
        results["verify"] = section("verify", reason, lambda: {"rows": verify_rows(
            time.time() + (deadline - time.time()) * 0.6, args.quick, Path(tmp), provider)})
    results["bench"] = section("bench", reason, lambda: _bench(deadline, args.quick, provider))
    (args.out / "gpu_check.json").write_text(json.dumps(results, indent=1) + "\n")
    (args.out / "gpu_check.md").write_text(markdown(results))
    print(f"wrote {args.out / 'gpu_check.json'} and {args.out / 'gpu_check.md'}")
    return 0


def _tests(deadline: float) -> dict:
    done = run([sys.executable, "-m", "pytest", "-m", "cuda", "-p", "no:cacheprovider", "-rs"],
               min(120, deadline - time.time()))
    return {"code": done["code"], "output": done["stdout"][-4000:]}


def _bench(deadline: float, quick: bool, provider: str) -> dict:
    budget = "0.3" if quick else "10"
    done = run([sys.executable, "benchmarks/bench_convtranspose.py", "--provider", provider, "--budget", budget]
               + (["--strategies", "subpixel"] if quick else []), deadline - time.time())
    return {"code": done["code"], "output": done["stdout"][-8000:]}


if __name__ == "__main__":
    sys.exit(main())
