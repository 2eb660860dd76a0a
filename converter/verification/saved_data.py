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
    _check_declared_sizes(file)
    with np.load(file, allow_pickle=False) as data:
        arrays = {k: np.asarray(data[k]) for k in data.files}
    numbered = {k for k in arrays if "/" in k and k.rsplit("/", 1)[1].isdigit()}
    if not numbered:
        return [arrays]
    count = max(int(k.rsplit("/", 1)[1]) for k in numbered) + 1
    if count > len(numbered):       # X/0 and X/99999999 would be 10^8 sets, all but two empty
        raise ValueError(f"sets numbered up to {count - 1} but only {len(numbered)} arrays: number them 0, 1, 2, ...")
    sets = [{} for _ in range(count)]
    for key in numbered:
        name, index = key.rsplit("/", 1)
        sets[int(index)][name] = arrays[key]
    return sets


def _check_declared_sizes(file: Path) -> None:
    """Every array's size as its .npy header declares it, summed, within MAX_BYTES: read before any array
    is (numpy allocates what a header declares, so a small deflated file can ask for 8 GiB)."""
    total = 0
    with zipfile.ZipFile(file) as archive:
        for info in archive.infolist():
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                               (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                if read_header is None:
                    raise ValueError(f"{info.filename}: .npy format version {version}")
                shape, _, dtype = read_header(member)
            total += int(np.prod(shape, dtype=object)) * dtype.itemsize
            if total > MAX_BYTES:
                raise ValueError(f"its arrays declare more than {MAX_BYTES >> 30} GiB")


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
