"""Runtime profiles: what a runtime cannot run, as data (converter/runtime_profiles/*.toml), and the checker.

A profile lists op constraints, each with the source line it was read from, an optional allow-list of
ops, and how onnxport converts for that runtime (generic targets, a strategy, a rank budget). The
checker walks every node (subgraphs and functions too) and says, per violation, which constraint it
breaks and where that constraint comes from. A user's own profile is a TOML file of the same shape:
`--target ./myruntime.toml`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import onnx
import onnx_graphsurgeon as gs

from onnxport.converter import profile_schema
from onnxport.errors import BadArgument, first_line
from onnxport.passes import all_graphs, constant_shape, resize_spec, text_attr, weight_shape

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

PROFILE_DIR = Path(__file__).parent / "runtime_profiles"


@dataclass(frozen=True)
class Violation:
    """A node (or graph input) a target or runtime cannot take: why, and the constraint's source."""

    node: str
    op: str
    why: str
    source: str

    def text(self) -> str:
        return f"{self.op}: {self.why} [{self.source}]"

    def to_dict(self) -> dict:
        return {"node": self.node, "op": self.op, "violates": self.why, "source": self.source}


@dataclass
class Profile:
    name: str
    title: str
    source: str
    read: str
    targets: list[str]
    strategy: str
    max_rank: int | None
    constraints: list[dict]
    allowed_ops: frozenset[str] | None = None
    ops_source: str = ""
    notes: list[str] = field(default_factory=list)
    static_inputs: str = ""         # the source saying the runtime needs fixed input sizes; "" if it does not
    fold_shapes: bool = False       # convert folds shape arithmetic on static sizes into constants
    origin: str = ""                # what --target named (a profile name or a .toml path)
    max_opset: int | None = None    # the newest ONNX opset the runtime imports
    max_opset_source: str = ""
    op_versions: dict = field(default_factory=dict)     # op -> the schema versions the runtime reads
    op_versions_source: str = ""

    def violations(self, graph: gs.Graph) -> list[Violation]:
        found = [Violation(t.name, "graph input", f"symbolic sizes {list(t.shape)}, and the runtime takes fixed ones",
                           self.static_inputs)
                 for t in graph.inputs if self.static_inputs and not _static(t)]
        if self.max_opset is not None and int(graph.opset) > self.max_opset:
            found.append(Violation(graph.name or "<model>", "model", f"opset {graph.opset} (the runtime imports up "
                                   f"to {self.max_opset}; onnxport keeps a model's opset)", self.max_opset_source))
        for g in all_graphs(graph):
            for node in g.nodes:
                found += self.node_violations(node) + self._version_violations(node, int(graph.opset))
        return found

    def _version_violations(self, node: gs.Node, opset: int) -> list[Violation]:
        """A runtime that registers converters per op version (onnx2torch) misses versions newer than it."""
        if node.op not in self.op_versions or (node.domain or "") not in ("", "ai.onnx"):
            return []
        version = onnx.defs.get_schema(node.op, opset).since_version
        known = self.op_versions[node.op]
        return [] if version in known else [Violation(
            node.name, node.op, f"{node.op}-{version} at opset {opset} (the runtime reads {node.op} versions "
            f"{', '.join(map(str, known))}; onnxport keeps a model's opset)", self.op_versions_source)]

    def node_violations(self, node: gs.Node) -> list[Violation]:
        if (node.domain or "") not in ("", "ai.onnx") or node.op == "Constant":
            return []
        if self.allowed_ops is not None and node.op not in self.allowed_ops:
            return [Violation(node.name, node.op, f"{node.op} is not among the supported ops", self.ops_source)]
        return [Violation(node.name, node.op, why, c["source"]) for c in self.constraints
                if c["op"] == ["*"] or node.op in c["op"] for why in _check(node, c)]

    def forbids(self, node: gs.Node) -> bool:
        """Whether the runtime cannot run this node as it is (convert lowers such ConvTransposes)."""
        return bool(self.node_violations(node))


MAX_KINDS = 4           # a refusal names this many kinds of remaining node; inspect lists every one


def refusal(remaining: list[Violation], remedy_text: str) -> str:
    """One line for a target not reached: each remaining kind of node with why (nodes named, a few per
    kind), and what fixes it (remedy)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for v in remaining:
        groups.setdefault((v.op, v.why), []).append(v.node)
    parts = []
    for (op, why), nodes in list(groups.items())[:MAX_KINDS]:
        named = ", ".join(f"'{n}'" for n in nodes[:2]) + (f" and {len(nodes) - 2} more" if len(nodes) > 2 else "")
        parts.append(f"{op} {named}: {why}")
    if len(groups) > MAX_KINDS:
        parts.append(f"{len(groups) - MAX_KINDS} more kinds (inspect --target lists them all)")
    return f"{len(remaining)} node(s) still violate the target: {'; '.join(parts)}; nothing written ({remedy_text})"


def remedy(remaining: list[Violation], fix_sizes: str | None = None, left_at_fixed: list[Violation] = ()) -> str:
    """The flag that fixes a target not reached: --fix-sizes where converting at those sizes was checked
    to reach the target; where the runtime wants fixed sizes but more would remain, the flag and what
    remains at those sizes; else none but --allow-partial."""
    fix = ""
    if fix_sizes and not left_at_fixed:
        fix = f"{fix_sizes} reaches it: fixed input sizes, the shape arithmetic folded; "
    elif fix_sizes and any(v.op == "graph input" for v in remaining):
        ops = list(dict.fromkeys(v.op for v in left_at_fixed))
        fix = (f"{fix_sizes} fixes the input sizes, after which {len(left_at_fixed)} node(s) still violate: "
               f"{', '.join(ops[:MAX_KINDS])}{' and more' if len(ops) > MAX_KINDS else ''}; ")
    return f"{fix}--allow-partial writes it anyway"


def _static(t: gs.Tensor) -> bool:
    return t.shape is not None and all(isinstance(d, int) and d > 0 for d in t.shape)


def names() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def is_profile(target: str) -> bool:
    return target in names() or target.endswith(".toml")


MAX_PROFILE_BYTES = 1 << 20


def load(target: str) -> Profile:
    path = Path(target) if target.endswith(".toml") else PROFILE_DIR / f"{target}.toml"
    if "\0" in target or not path.is_file():
        raise BadArgument(f"no runtime profile '{target}' (profiles: {', '.join(names())}, or a .toml file)")
    try:
        raw = path.read_bytes()
        if len(raw) > MAX_PROFILE_BYTES:
            raise BadArgument(f"{target}: a profile is at most {MAX_PROFILE_BYTES >> 10} KiB ({len(raw)} bytes)")
        data = profile_schema.validate(tomllib.loads(raw.decode()))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, profile_schema.SchemaError) as e:
        raise BadArgument(f"{target}: not a valid profile ({first_line(e, 200)})") from None
    except (RecursionError, ValueError) as e:          # 5,000-deep arrays, 100,000-digit integers
        raise BadArgument(f"{target}: not a valid profile (too deep or too large: {first_line(e, 120)})") from None
    except OSError as e:
        raise BadArgument(f"{target}: cannot read: {e.strerror or e}") from None
    convert, ops = data.get("convert", {}), data.get("ops", {})
    constraints = [dict(c, op=list(c["op"])) for c in data.get("constraint", [])]
    return Profile(data.get("name", path.stem), data.get("title", path.stem), data.get("source", ""),
                   data.get("read", ""), list(convert.get("targets", [])), convert.get("strategy", "subpixel"),
                   convert.get("max_rank"), constraints,
                   frozenset(ops["allowed"]) if "allowed" in ops else None, ops.get("source", ""),
                   list(data.get("notes", [])), data.get("static_inputs", {}).get("source", ""),
                   bool(convert.get("fold_shapes", False)), target, data.get("max_opset"),
                   data.get("max_opset_source", ""), dict(data.get("op_versions", {})),
                   data.get("op_versions_source", ""))


def _check(node: gs.Node, c: dict) -> list[str]:
    return [why for rule, value in c.items() if rule in RULES for why in [RULES[rule](node, value)] if why]


def _rank(t: gs.Tensor) -> int | None:
    return len(t.shape) if t.shape is not None else None


def _spatial_rank(node: gs.Node) -> int | None:
    if "kernel_shape" in node.attrs:
        return len(node.attrs["kernel_shape"])
    if node.op in ("Conv", "ConvTranspose"):
        shape = weight_shape(node.inputs[1])
        return len(shape) - 2 if shape is not None else None
    rank = _rank(node.inputs[0])
    return rank - 2 if rank is not None else None


def _spatial_ranks(node, allowed):
    r = _spatial_rank(node)
    return f"{r}-D (supported: {', '.join(f'{a}-D' for a in allowed)})" if r is not None and r not in allowed else None


def _input_ranks(node, allowed):
    r = _rank(node.inputs[0])
    return f"input of rank {r} (supported: {allowed})" if r is not None and r not in allowed else None


def _max_rank(node, limit):
    worst = max((_rank(t) or 0 for t in node.inputs + node.outputs if t.name), default=0)
    return f"a tensor of rank {worst} (at most {limit})" if worst > limit else None


def _max_input_rank(node, limit):
    r = _rank(node.inputs[0])
    return f"input of rank {r} (at most {limit})" if r is not None and r > limit else None


def _constant_inputs(node, indices):
    computed = [i for i in indices if i < len(node.inputs) and node.inputs[i].name and constant_shape(node.inputs[i]) is None]
    return f"input(s) {computed} computed, not constant" if computed else None


def _auto_pad(node, allowed):
    value = text_attr(node, "auto_pad", "NOTSET")
    return f"auto_pad {value}" if value not in allowed else None


def _equal_pads(node, wanted):
    pads = [int(p) for p in node.attrs.get("pads", [])]
    return f"pads {pads} not all equal" if wanted and len(set(pads)) > 1 else None


def _no_output_shape(node, wanted):
    return "output_shape given" if wanted and node.attrs.get("output_shape") else None


def _zero_output_padding(node, wanted):
    return "output_padding not 0" if wanted and any(node.attrs.get("output_padding", [])) else None


def _groups(node, allowed):
    g = int(node.attrs.get("group", 1))
    return f"group {g}" if g not in allowed else None


def _unit_dilations(node, wanted):
    return f"dilations {list(node.attrs['dilations'])}" if wanted and any(d != 1 for d in node.attrs.get("dilations", [])) \
        else None


def _resize_modes(node, table):
    mode = text_attr(node, "mode", "nearest")
    if mode not in table:
        return f"mode {mode} (supported: {', '.join(table)})"
    coordinate = text_attr(node, "coordinate_transformation_mode", "half_pixel")
    if "coordinate" in table[mode] and coordinate not in table[mode]["coordinate"]:
        return f"{mode} with coordinate_transformation_mode {coordinate}"
    nearest = text_attr(node, "nearest_mode", "round_prefer_floor")
    if mode == "nearest" and "nearest_mode" in table[mode] and nearest not in table[mode]["nearest_mode"]:
        return f"nearest_mode {nearest}"
    return None


def _integer_upscale(node, wanted):
    spec = resize_spec(node, _rank(node.inputs[0]) or 4)
    scales = None if isinstance(spec, str) else spec.scales
    dims = node.inputs[0].shape
    if scales is None and not isinstance(spec, str) and spec.sizes is not None and dims is not None \
            and all(isinstance(d, int) and d > 0 for d in dims):      # constant sizes of a static input
        scales = tuple(s / d if s is not None else 1.0 for s, d in zip(spec.sizes, dims))
    if scales is None:
        return "scales not constant" if wanted else None
    bad = [s for s in scales if s < 1 or s != int(s)]
    return f"scales {list(scales)} (integer up-scales only)" if wanted and bad else None


def _pad_modes(node, allowed):
    mode = text_attr(node, "mode", "constant")
    return f"mode {mode}" if mode not in allowed else None


def _static_dims(node, axes):
    shape = node.inputs[0].shape
    loose = [a for a in axes if shape is not None and a < len(shape) and not isinstance(shape[a], int)]
    return f"input dims {loose} not static (fix the input sizes: --fix-sizes)" if loose or shape is None else None


def _resize_innermost(node, table):
    mode = text_attr(node, "mode", "nearest")
    rank = _rank(node.inputs[0])
    if mode not in table or rank is None:
        return None
    spec = resize_spec(node, rank)
    if isinstance(spec, str) or spec.scales is None:
        return None
    resized = [a for a, s in enumerate(spec.scales) if s != 1]
    return f"{mode} on axis {min(resized)} (only the {table[mode]} innermost)" if resized and min(resized) < rank - table[mode] \
        else None


def _no_negative_pads(node, wanted):
    if not wanted or not node.attrs.get("output_shape"):
        return None
    from onnxport.passes import resolve_convtranspose as resolve
    shape = weight_shape(node.inputs[1])
    dims = node.inputs[0].shape
    if shape is None or dims is None or not all(isinstance(d, int) for d in dims[2:]):
        return "output_shape on symbolic sizes"
    spec = resolve(node.name, node.attrs, shape, list(dims[2:]))
    return "output_shape that needs negative padding" if any(a.pad_end < 0 for a in spec.axes) else None


def _strides(node) -> list[int]:
    return [int(v) for v in node.attrs.get("strides", [1] * (_spatial_rank(node) or 0))]


def _stride_values(node, allowed):
    strides = _strides(node)
    return f"strides {strides} (supported: {allowed})" if any(s not in allowed for s in strides) else None


def _max_stride(node, limit):
    strides = _strides(node)
    return f"strides {strides} (at most {limit})" if any(s > limit for s in strides) else None


def _max_pad(node, limit):
    pads = [int(p) for p in node.attrs.get("pads", [])]
    return f"pads {pads} (at most {limit})" if any(p > limit for p in pads) else None


def _max_kernel(node, limit):
    kernel = list(node.attrs.get("kernel_shape", []))
    if not kernel and node.op in ("Conv", "ConvTranspose"):
        shape = weight_shape(node.inputs[1])
        kernel = list(shape[2:]) if shape is not None else []
    return f"kernel {kernel} (at most {limit})" if any(isinstance(k, int) and k > limit for k in kernel) else None


def _coordinate_modes_refused(node, refused):
    value = text_attr(node, "coordinate_transformation_mode", "half_pixel")
    return f"coordinate_transformation_mode {value}" if value in refused else None


def _attr_set(key: str, default, label: str):
    def rule(node, wanted):
        value = node.attrs.get(key, default)
        value = value.decode() if isinstance(value, bytes) else value
        return label if wanted and value != default else None
    return rule


RULES = {
    "spatial_ranks": _spatial_ranks, "input_ranks": _input_ranks, "max_rank": _max_rank,
    "max_input_rank": _max_input_rank, "constant_inputs": _constant_inputs, "auto_pad": _auto_pad,
    "equal_pads": _equal_pads, "no_output_shape": _no_output_shape,
    "zero_output_padding": _zero_output_padding, "groups": _groups, "unit_dilations": _unit_dilations,
    "resize_modes": _resize_modes, "integer_upscale": _integer_upscale, "pad_modes": _pad_modes,
    "static_dims": _static_dims, "resize_innermost": _resize_innermost, "no_negative_pads": _no_negative_pads,
    "coordinate_modes_refused": _coordinate_modes_refused, "stride_values": _stride_values,
    "max_stride": _max_stride, "max_pad": _max_pad, "max_kernel": _max_kernel,
    "no_antialias": _attr_set("antialias", 0, "antialias"),
    "no_exclude_outside": _attr_set("exclude_outside", 0, "exclude_outside"),
    "no_aspect_ratio_policy": _attr_set("keep_aspect_ratio_policy", "stretch", "keep_aspect_ratio_policy"),
}
