"""Where lowering recipes live between runs: the model's metadata_props, so `convert --fuse` can fold
chains back later (passes._recipes makes and reads the recipes themselves; this only stores them).

Each rewrite that lowers a node records a recipe (passes._recipes); they accumulate under one key as a
JSON list. Fusing consumes the recipes of the chains it folded; the others stay for a later run.
"""
from __future__ import annotations

import json

import onnx

KEY = "onnxport.lowered"
MAX_CHARS = 1 << 20             # recipes of thousands of lowered nodes fit; more is not ours


def load(model: onnx.ModelProto) -> list[dict]:
    for prop in model.metadata_props:
        if prop.key == KEY:
            try:                # data written by an earlier run, or by anyone: read as untrusted
                data = json.loads(prop.value) if len(prop.value) <= MAX_CHARS else None
            except (json.JSONDecodeError, RecursionError):
                return []
            if not isinstance(data, list):
                return []
            return [r for r in data if isinstance(r, dict) and isinstance(r.get("y"), str)
                    and isinstance(r.get("pass"), str)]
    return []


def update(stored: list[dict], reports) -> list[dict]:
    """Recipes after a run: the stored ones not folded back, then those the run's lowerings recorded.

    A fuse pass reports {"folded": output name} for each chain it folded (see passes._recipes).
    """
    entries = [rec for r in reports for rec in r.recipes]
    folded = {e["folded"] for e in entries if "folded" in e}
    return [r for r in stored if r["y"] not in folded] + [e for e in entries if "folded" not in e]


def store(model: onnx.ModelProto, recipes: list[dict]) -> None:
    kept = [p for p in model.metadata_props if p.key != KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    if recipes:
        model.metadata_props.add(key=KEY, value=json.dumps(recipes, separators=(",", ":")))
