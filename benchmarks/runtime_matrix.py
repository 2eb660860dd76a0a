"""The runtime matrix (converter.runtime_matrix) over the bundled examples and the real-export fixtures.

Every installed runtime (openvino, opencv, tract, mnn: pip install 'onnxport[runtimes]'), every model in
three forms; prints a markdown table (the README's) and writes every cell as JSON with --json FILE.

    python benchmarks/runtime_matrix.py [--runtimes openvino,tract] [--models monai_unet,...] [--json cells.json]
    python benchmarks/runtime_matrix.py --table cells.json torch_cells.json    # runs from two environments
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import onnx

from onnxport.converter.runtimes import RUNTIMES
from onnxport.converter.runtime_matrix import FORMS, Cell, cell, table
from onnxport.models import examples

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "data" / "real_exports"


def models(names: list[str] | None) -> dict[str, onnx.ModelProto]:
    found = {f"example:{n}": (lambda n=n: examples.build(n)) for n in sorted(examples.EXAMPLES)}
    found.update({p.name.removesuffix(".onnx"): (lambda p=p: onnx.load(str(p)))
                  for p in sorted(FIXTURES.glob("*.fixed.onnx"))})
    return {k: v for k, v in found.items() if not names or any(n in k for n in names)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runtimes", help="comma-separated (default: every installed one)")
    ap.add_argument("--models", help="comma-separated name parts (default: all)")
    ap.add_argument("--json", metavar="FILE")
    ap.add_argument("--table", nargs="+", metavar="CELLS.json",
                    help="print the table of saved cells (runtimes installed in different environments), run nothing")
    args = ap.parse_args()
    if args.table:
        saved = [Cell(**c) for path in args.table for c in json.loads(Path(path).read_text())]
        print(table(saved, list(dict.fromkeys(c.runtime for c in saved))))
        return
    runtimes = args.runtimes.split(",") if args.runtimes else \
        [n for n, r in RUNTIMES.items() if importlib.util.find_spec(r.module) is not None]
    cells, start = [], time.perf_counter()
    for name, build in models(args.models.split(",") if args.models else None).items():
        model = build()
        for form in FORMS:
            for runtime in runtimes:
                cells.append(cell(name, model, form, runtime))
                print(f"{name} {form} {runtime}: {cells[-1].verdict} {cells[-1].detail[:120]}", file=sys.stderr)
    print(table(cells, runtimes))
    print(f"\n{len(cells)} cells in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps([c.to_dict() for c in cells], indent=1))


if __name__ == "__main__":
    main()
