"""Inputs and expected outputs saved by other tools, so a port is checked against what the framework computed.

Two formats:
- .npz: arrays named by input (or output) name, one set; or NAME/0, NAME/1, ... for several sets.
- Polygraphy's JSON (`polygraphy run --save-inputs/--save-outputs`): arrays encoded as
  {"array": base64 of np.save bytes, "polygraphy_class": "ndarray"}; inputs are a list of {name: array},
  outputs a RunResults {"lst": [[runner, [{"outputs": {name: array}}, ...]]]}, of which the first runner's
  iterations are taken.
Arrays are read without pickle.
"""
from __future__ import annotations

import base64
import binascii
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from onnxport.errors import BadInput

MAX_BYTES = 4 << 30


def load_sets(path: str, what: str) -> list[dict[str, np.ndarray]]:
    """The sets of named arrays a file holds (one per run); BadInput with one line if it holds none."""
    file = Path(path)
    if not file.is_file():
        raise BadInput(f"{what} {path}: no such file")
    if file.stat().st_size > MAX_BYTES:
        raise BadInput(f"{what} {path}: larger than {MAX_BYTES >> 30} GiB")
    try:
        sets = _polygraphy(file) if file.suffix.lower() == ".json" else _npz(file)
    except (OSError, ValueError, KeyError, TypeError, IndexError, zipfile.BadZipFile, binascii.Error,
            json.JSONDecodeError, RecursionError) as e:
        raise BadInput(f"{what} {path}: not an .npz of named arrays or a Polygraphy JSON file ({e})") from None
    if not sets or not all(sets):
        raise BadInput(f"{what} {path}: holds no arrays")
    return sets


def _npz(file: Path) -> list[dict[str, np.ndarray]]:
    with np.load(file, allow_pickle=False) as data:
        arrays = {k: np.asarray(data[k]) for k in data.files}
    numbered = {k for k in arrays if "/" in k and k.rsplit("/", 1)[1].isdigit()}
    if not numbered:
        return [arrays]
    count = max(int(k.rsplit("/", 1)[1]) for k in numbered) + 1
    sets = [{} for _ in range(count)]
    for key in numbered:
        name, index = key.rsplit("/", 1)
        sets[int(index)][name] = arrays[key]
    return sets


def _decode(value):
    if isinstance(value, dict):
        if value.get("polygraphy_class") == "ndarray" or "__polygraphy_encoded_ndarray" in value:
            return np.load(io.BytesIO(base64.b64decode(value["array"].encode(), validate=True)), allow_pickle=False)
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _arrays(outputs: dict) -> dict[str, np.ndarray]:
    """An iteration's outputs: arrays, possibly wrapped (lazily stored ones keep theirs under 'values')."""
    found = {}
    for name, value in outputs.items():
        while isinstance(value, dict) and "values" in value:
            value = value["values"]
        found[name] = np.asarray(value)
    return found


def _polygraphy(file: Path) -> list[dict[str, np.ndarray]]:
    data = _decode(json.loads(file.read_text()))
    if isinstance(data, list):                                  # saved inputs: a list of feed dicts
        return [{k: np.asarray(v) for k, v in feeds.items()} for feeds in data]
    if isinstance(data, dict) and "lst" in data:                # RunResults: the first runner's iterations
        _, iterations = data["lst"][0]
        return [_arrays(it["outputs"]) for it in iterations]
    raise ValueError("neither saved inputs nor RunResults")
