"""What make.py and make_keras.py share: the seeded inputs and the manifest they both add to."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def inputs(shape, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def merge_manifest(folder: Path, entries: dict) -> None:
    """manifest.json gets these nets' entries; the other script's stay."""
    path = folder / "manifest.json"
    merged = json.loads(path.read_text()) if path.exists() else {}
    merged.update(entries)
    path.write_text(json.dumps(merged, indent=1, sort_keys=True) + "\n")
