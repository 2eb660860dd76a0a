"""The shape a runtime profile (TOML) must have: every field's type, range and size, checked before use.

A profile is user input (`--target ./mynpu.toml`): a wrongly typed value must be a one-line error, not
a value read some other way (`fold_shapes = "no"` taken as true, `allowed = "Conv"` as four letters,
`max_rank = nan`). Each validator returns the value or raises SchemaError naming the field.
"""
from __future__ import annotations

import math

MAX_ITEMS = 4096              # no op list or constraint list of a real runtime is longer
MAX_TEXT = 4096               # characters of one string


class SchemaError(ValueError):
    """A field that does not have the shape the profile format gives it."""


def text(value, where: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise SchemaError(f"{where} must be a string (at most {MAX_TEXT} characters)")
    return value


def flag(value, where: str) -> bool:
    if not isinstance(value, bool):
        raise SchemaError(f"{where} must be true or false")
    return value


def integer(low: int, high: int):
    def check(value, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise SchemaError(f"{where} must be an integer from {low} to {high}")
        return value
    return check


def listing(item):
    def check(value, where: str) -> list:
        if not isinstance(value, list) or len(value) > MAX_ITEMS:
            raise SchemaError(f"{where} must be a list (at most {MAX_ITEMS} items)")
        return [item(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return check


def table(fields: dict, *, required=(), extra=None):
    """A TOML table with these fields (validators); `extra` validates keys not listed (None: refused)."""
    def check(value, where: str) -> dict:
        if not isinstance(value, dict):
            raise SchemaError(f"{where} must be a table")
        missing = [k for k in required if k not in value]
        if missing:
            raise SchemaError(f"{where} needs {', '.join(missing)}")
        checked = {}
        for key, v in value.items():
            if key in fields:
                checked[key] = fields[key](v, f"{where}.{key}" if where else key)
            elif extra is not None:
                checked[key] = extra(v, f"{where}.{key}")
            else:
                raise SchemaError(f"{where or 'the profile'} has an unknown field '{key}' "
                                  f"(known: {', '.join(sorted(fields))})")
        return checked
    return check


def one_or_more(item):
    listed = listing(item)

    def check(value, where: str) -> list:
        return [item(value, where)] if isinstance(value, str) else listed(value, where)
    return check


def finite(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SchemaError(f"{where} must be a finite number")
    return value


STRINGS = listing(text)
RANKS = listing(integer(0, 16))
SIZE = integer(0, 1 << 20)
MODE_TABLE = table({"coordinate": STRINGS, "nearest_mode": STRINGS})

RULE_VALUES = {
    "spatial_ranks": listing(integer(1, 8)), "input_ranks": RANKS, "max_rank": integer(1, 16),
    "max_input_rank": integer(1, 16), "constant_inputs": RANKS, "auto_pad": STRINGS, "equal_pads": flag,
    "no_output_shape": flag, "zero_output_padding": flag, "groups": listing(integer(1, 1 << 20)),
    "unit_dilations": flag, "resize_modes": table({}, extra=MODE_TABLE), "integer_upscale": flag,
    "pad_modes": STRINGS, "static_dims": RANKS, "resize_innermost": table({}, extra=integer(1, 8)),
    "no_negative_pads": flag, "coordinate_modes_refused": STRINGS, "stride_values": listing(integer(1, 1 << 10)),
    "max_stride": integer(1, 1 << 10), "max_pad": SIZE, "max_kernel": SIZE, "no_antialias": flag,
    "no_exclude_outside": flag, "no_aspect_ratio_policy": flag,
}

CONSTRAINT = table({"op": one_or_more(text), "source": text, **RULE_VALUES}, required=("op", "source"))

PROFILE = table({
    "name": text, "title": text, "read": text, "source": text, "notes": STRINGS,
    "max_opset": integer(1, 64), "max_opset_source": text,
    "op_versions": table({}, extra=listing(integer(1, 64))), "op_versions_source": text,
    "convert": table({"targets": STRINGS, "strategy": text, "max_rank": integer(1, 16), "fold_shapes": flag}),
    "ops": table({"allowed": STRINGS, "source": text}),
    "static_inputs": table({"source": text}, required=("source",)),
    "constraint": listing(CONSTRAINT),
})


def validate(data: dict) -> dict:
    """The profile's data, every field checked (SchemaError names the first that is wrong)."""
    return PROFILE(data, "")
