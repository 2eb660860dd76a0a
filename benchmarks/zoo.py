"""The zoo matrix: every command on every real export (tests/data/real_exports), in fresh processes.

For each exported file: `convert` (default), `sizes`, `strip-sizes` (fixed exports) and `verify` of the
original against its default conversion; on each net's primary export (TorchScript, dynamic axes, where
there is one) also `convert --target no-conv3d,no-pool3d,no-convtranspose,no-resize5d` and `convert
--target PROFILE` for each runtime profile, and where that refusal names `--fix-sizes NAME=DIMS`, the
same again with those flags (`profile:NAME+fixed`: what a user who follows the refusal gets). Each cell
is one of
  pass     exit 0
  refuse   exit 1 or 2 with one line on stderr naming why (the contract for what cannot be done)
  fail     a traceback, a multi-line error, a timeout, or any other exit
with its wall time and the peak memory of that command's process (the kernel's accounting of the
child, via os.wait4: its floor is this script's own few tens of MB, which Linux carries through fork).
Prints one row per file and the totals, and with --json/--markdown writes them.

    python benchmarks/zoo.py [--jobs 2] [--only monai_basicunet] [--commands convert,sizes] [--markdown docs/zoo.md]
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "data" / "real_exports"
LOWER_ALL = "no-conv3d,no-pool3d,no-convtranspose,no-resize5d"
TIMEOUT_S = 120


def profiles() -> list[str]:
    return sorted(p.stem for p in (ROOT / "converter" / "runtime_profiles").glob("*.toml"))


def commands(path: Path, tmp: Path, wanted: set[str] | None, primary: bool) -> dict[str, list[str]]:
    """The commands run on one export; the target and profile conversions on each net's primary export
    only (primary_exports), the others on every export."""
    out = str(tmp / "out.onnx")
    found = {"convert": ["convert", str(path), "-o", out, "--force"]}
    if primary:
        found["lower-all"] = ["convert", str(path), "-o", out, "--force", "--target", LOWER_ALL]
        found.update({f"profile:{p}": ["convert", str(path), "-o", out, "--force", "--target", p] for p in profiles()})
    found["sizes"] = ["sizes", str(path)]
    if ".fixed." in path.name:
        found["strip-sizes"] = ["strip-sizes", str(path), "-o", out, "--force"]
    found["verify"] = ["verify", str(path), str(tmp / "converted.onnx")]
    return {k: v for k, v in found.items() if wanted is None or k.split(":")[0] in wanted or k in wanted}


CHECKOUT = ROOT          # --checkout: the onnxport checkout whose cli.py runs (a before/after comparison)


def run_one(args: list[str]) -> dict:
    """One command in a fresh process: outcome, seconds, peak MiB of that process alone."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, str(CHECKOUT / "cli.py"), *args], stdout=out, stderr=err,
                                cwd=CHECKOUT, env={**os.environ, "PYTHONPATH": str(CHECKOUT.parent)})
        deadline = start + TIMEOUT_S
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        seconds = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode(errors="replace").strip()
    lines = [line for line in stderr.splitlines() if line.strip()]
    if seconds > TIMEOUT_S:
        outcome, why = "fail", f"timeout after {TIMEOUT_S} s"
    elif code == 0:
        outcome, why = "pass", ""
    elif code in (1, 2) and len(lines) <= 1 and "Traceback" not in stderr:
        outcome, why = "refuse", lines[0] if lines else "(exit 1: see the report)"
    else:
        outcome, why = "fail", (lines[-1] if lines else f"exit {code}")[:300]
    return {"outcome": outcome, "code": code, "seconds": round(seconds, 2),
            "peak_mib": round(usage.ru_maxrss / 1024, 1), "why": why}


def run_file(path: Path, wanted: set[str] | None, primary: bool) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        results = {}
        for key, args in commands(path, tmp, wanted, primary).items():
            if key == "verify":
                made = run_one(["convert", str(path), "-o", str(tmp / "converted.onnx"), "--no-verify", "--force"])
                if made["outcome"] != "pass":
                    results[key] = {**made, "outcome": "skip", "why": "no converted model to verify"}
                    continue
            results[key] = run_one(args)
            fix = FIX_SIZES.findall(results[key]["why"]) if key.startswith("profile:") else []
            if results[key]["outcome"] == "refuse" and fix:
                results[f"{key}+fixed"] = run_one(args + [a for f in fix for a in ("--fix-sizes", f)])
    return results


FIX_SIZES = re.compile(r"--fix-sizes (\S+)")      # the flag a profile's refusal names


def exports(only: list[str] | None) -> list[Path]:
    manifest = json.loads((FIXTURES / "manifest.json").read_text())
    return [FIXTURES / f for net, info in sorted(manifest.items()) if not only or net in only
            for _, f in sorted(info["files"].items())]


def primary_exports() -> set[str]:
    """Per net, the export a user most likely has: TorchScript with dynamic axes, else the first there is."""
    manifest = json.loads((FIXTURES / "manifest.json").read_text())
    order = ("torchscript.dynamic", "tf2onnx.dynamic", "dynamo.dynamic", "torchscript.fixed", "dynamo.fixed",
             "tf2onnx.fixed")
    return {next(info["files"][k] for k in order if k in info["files"]) for info in manifest.values()}


def markdown(matrix: dict[str, dict], header: str) -> str:
    """The matrix as Markdown: one row per export (P pass, R refuse, F fail, - not run; seconds), the totals,
    then every refusal and failure with its line."""
    keys = list(dict.fromkeys(k for row in matrix.values() for k in row))
    mark = {"pass": "P", "refuse": "R", "fail": "**F**", "skip": "-"}
    lines = [header, "", "| export | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for name, row in matrix.items():
        cells = ["" if row.get(k) is None else f"{mark[row[k]['outcome']]} {row[k]['seconds']:.1f}" for k in keys]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", totals_text(matrix), "", "Refusals and failures:", ""]
    lines += [f"- {name} `{k}`: {r['outcome']}: {r['why']}" for name, row in matrix.items() for k, r in row.items()
              if r["outcome"] in ("refuse", "fail")]
    return "\n".join(lines)


def totals_text(matrix: dict[str, dict]) -> str:
    cells = [(r, name, k) for name, row in matrix.items() for k, r in row.items()]
    totals = Counter(r["outcome"] for r, _, _ in cells)
    slowest = max(cells, key=lambda c: c[0]["seconds"])
    largest = max(cells, key=lambda c: c[0]["peak_mib"])
    return (f"totals: {', '.join(f'{v} {k}' for k, v in sorted(totals.items()))} of {len(cells)} commands; slowest "
            f"{slowest[0]['seconds']:.1f} s ({slowest[1]} {slowest[2]}); largest {largest[0]['peak_mib']:.0f} MiB "
            f"({largest[1]} {largest[2]})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", help="comma-separated net names (manifest keys)")
    ap.add_argument("--commands", help="comma-separated: convert,lower-all,profile,sizes,strip-sizes,verify")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--markdown", type=Path)
    ap.add_argument("--checkout", type=Path, default=ROOT,
                    help="an onnxport checkout to run instead of this one, in a folder named onnxport (the "
                         "package's name), on this checkout's exports")
    args = ap.parse_args()
    global CHECKOUT
    CHECKOUT = args.checkout.resolve()
    files = exports(args.only.split(",") if args.only else None)
    wanted = set(args.commands.split(",")) if args.commands else None
    started = (f"{len(files)} exports, {args.jobs} job(s), load average {os.getloadavg()[0]:.2f} on "
               f"{os.cpu_count()} CPU(s), checkout {CHECKOUT}")
    print(started)
    matrix = {}
    primary = primary_exports()
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for path, row in zip(files, pool.map(lambda p: run_file(p, wanted, p.name in primary), files)):
            matrix[path.name] = row
            print(f"{path.name}")
            for key, r in row.items():
                print(f"  {key:20s} {r['outcome']:7s} {r['seconds']:6.1f}s {r['peak_mib']:7.0f} MiB  {r['why'][:160]}")
    print(totals_text(matrix))
    if args.json:
        totals = Counter(r["outcome"] for row in matrix.values() for r in row.values())
        args.json.write_text(json.dumps({"matrix": matrix, "totals": dict(totals)}, indent=1) + "\n")
    if args.markdown:
        args.markdown.write_text(markdown(matrix, started) + "\n")


if __name__ == "__main__":
    main()
