"""ConvTranspose attributes resolved per spatial axis, and its output-size arithmetic.

The ONNX definition, per axis (input length L, stride s, kernel k, dilation d, output_padding op):
    y[o] = bias + sum over (i, t) with s*i + d*t - pad_begin == o  of  x[i] * w[t]
    out  = s*(L-1) + op + d*(k-1) + 1 - pad_begin - pad_end
auto_pad SAME_* and output_shape define the pads through total = s*(L-1) + op + d*(k-1) + 1 - out_wanted
(out_wanted = L*s for SAME_*): SAME_UPPER puts the odd unit at the end, NOTSET/SAME_LOWER at the beginning.

Where the ONNX text leaves room, onnxport follows onnxruntime (the runtime every rewrite is verified on),
as measured on onnxruntime 1.31: a negative total (stride larger than the effective kernel) is clamped to
zero, so SAME_* then gives the full length s*(L-1) + op + d*(k-1) + 1 instead of L*s; an output_shape
longer than the full length extends the end with bias-only positions, up to s*(L-1) + d*(k-1) + 1 + s-1
(output_padding plus the extension stay below the stride); one further out is refused.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx_graphsurgeon as gs

from onnxport.errors import UnsupportedGraph
from onnxport.passes._graph import constant_shape, constant_value, known_dims, weight_shape
from onnxport.passes._registry import RankBudget, Skip

AUTO_PADS = ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")


class SymbolicOutputShape(UnsupportedGraph):
    """output_shape on a symbolic input size: the pads would change with the size."""


@dataclass(frozen=True)
class Axis:
    """One spatial axis of a ConvTranspose with its pads resolved (pad_end < 0 extends the output)."""

    stride: int
    kernel: int
    dilation: int
    output_padding: int
    pad_begin: int
    pad_end: int

    @property
    def effective_kernel(self) -> int:
        return self.dilation * (self.kernel - 1) + 1

    def full_length(self, length: int) -> int:
        """Length before any padding is taken off: s*(L-1) + op + d*(k-1) + 1."""
        return self.stride * (length - 1) + self.output_padding + self.effective_kernel

    def output_length(self, length: int) -> int:
        return self.full_length(length) - self.pad_begin - self.pad_end

    @property
    def length_offset(self) -> int:
        """out = s*L + length_offset, whatever L is."""
        return self.output_length(0)

    def explicit(self) -> tuple[int, int, int]:
        """(pad_begin, pad_end, output_padding) with no negative pad: an extension at the end (pad_end < 0,
        from output_shape) becomes output_padding, which resolve() keeps below the stride."""
        return self.pad_begin, max(0, self.pad_end), self.output_padding + max(0, -self.pad_end)


@dataclass(frozen=True)
class ConvTransposeSpec:
    """Everything about a ConvTranspose node that a rewrite needs, with defaults applied."""

    axes: tuple[Axis, ...]
    group: int
    in_channels: int
    out_channels: int
    auto_pad: str

    @property
    def spatial_rank(self) -> int:
        return len(self.axes)

    @property
    def strides(self) -> tuple[int, ...]:
        return tuple(a.stride for a in self.axes)

    @property
    def kernel_shape(self) -> tuple[int, ...]:
        return tuple(a.kernel for a in self.axes)

    @property
    def dilations(self) -> tuple[int, ...]:
        return tuple(a.dilation for a in self.axes)

    def output_spatial(self, lengths):
        """Output spatial sizes for concrete input sizes."""
        return tuple(a.output_length(n) for a, n in zip(self.axes, lengths))


def _ints(attrs: dict, key: str, default: list[int]) -> list[int]:
    value = attrs.get(key)
    return [int(v) for v in value] if value is not None else list(default)


def resolve(node_name: str, attrs: dict, weight_shape, input_spatial) -> ConvTransposeSpec:
    """Resolve a ConvTranspose's attributes against its weight shape and (maybe symbolic) input sizes.

    input_spatial: one entry per spatial axis, an int where the size is known, else None. Sizes are only
    needed for output_shape (its pads depend on the input size); a symbolic size there raises.
    Raises UnsupportedGraph naming the node for attributes that are inconsistent.
    """
    def bad(why: str) -> UnsupportedGraph:
        return UnsupportedGraph(f"ConvTranspose '{node_name}': {why}")

    weight_shape = [int(v) for v in weight_shape]
    if len(weight_shape) < 3:
        raise bad(f"weight of rank {len(weight_shape)}; expected (C_in, C_out/group, k1, ...)")
    n = len(weight_shape) - 2
    kernel = weight_shape[2:]
    if attrs.get("kernel_shape") is not None and _ints(attrs, "kernel_shape", []) != kernel:
        raise bad(f"kernel_shape {_ints(attrs, 'kernel_shape', [])} does not match the weight's {kernel}")
    strides = _ints(attrs, "strides", [1] * n)
    dilations = _ints(attrs, "dilations", [1] * n)
    output_padding = _ints(attrs, "output_padding", [0] * n)
    pads = _ints(attrs, "pads", [0] * (2 * n))
    output_shape = _ints(attrs, "output_shape", [])
    auto_pad = attrs.get("auto_pad", "NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
    group = int(attrs.get("group", 1))
    for key, values, size in (("strides", strides, n), ("dilations", dilations, n),
                              ("output_padding", output_padding, n), ("pads", pads, 2 * n)):
        if len(values) != size:
            raise bad(f"{key} has {len(values)} values for {n} spatial axes")
    if output_shape and len(output_shape) == n + 2:
        output_shape = output_shape[2:]
    if output_shape and len(output_shape) != n:
        raise bad(f"output_shape has {len(output_shape)} values for {n} spatial axes")
    if auto_pad not in AUTO_PADS:
        raise bad(f"unknown auto_pad '{auto_pad}'")
    if min(strides) < 1 or min(dilations) < 1 or min(kernel) < 1:
        raise bad("strides, dilations and kernel sizes must be positive")
    if min(output_padding) < 0:
        raise bad(f"negative output_padding {output_padding}")
    if group < 1 or weight_shape[0] % group:
        raise bad(f"group {group} does not divide the {weight_shape[0]} input channels")
    if input_spatial is not None and len(input_spatial) != n:
        raise bad(f"input has {len(input_spatial)} spatial axes but the weight has {n}")

    axes = []
    for i in range(n):
        s, k, d, op = strides[i], kernel[i], dilations[i], output_padding[i]
        probe = Axis(s, k, d, op, 0, 0)
        if output_shape:
            length = input_spatial[i] if input_spatial is not None else None
            if length is None:
                raise SymbolicOutputShape(f"ConvTranspose '{node_name}': output_shape with a symbolic "
                                          f"input size (its pads change with the size; fix the size first)")
            total = probe.full_length(length) - output_shape[i]
            if total < 0:
                if op - total > s - 1:
                    raise bad(f"output_shape {output_shape[i]} on axis {i} is unreachable: the full output "
                              f"is {probe.full_length(length)} long and output_padding plus the extension "
                              f"must stay below the stride {s}")
                begin, end = 0, total
            else:
                begin = total // 2 if auto_pad == "SAME_UPPER" else total - total // 2
                end = total - begin
        elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            total = max(0, op + probe.effective_kernel - s)
            begin = total // 2 if auto_pad == "SAME_UPPER" else total - total // 2
            end = total - begin
        elif auto_pad == "VALID":
            begin, end = 0, 0
        else:
            begin, end = pads[i], pads[n + i]
        axes.append(Axis(s, k, d, op, begin, end))
    return ConvTransposeSpec(tuple(axes), group, weight_shape[0], weight_shape[1] * group, auto_pad)



@dataclass(frozen=True)
class ConvTransposeMatch:
    """A ConvTranspose node with what every lowering needs; weight is None when W is computed in the graph."""

    nodes: tuple[gs.Node, ...]
    x: gs.Tensor
    y: gs.Tensor
    weight: np.ndarray | None
    weight_tensor: gs.Tensor
    bias: np.ndarray | None
    bias_tensor: gs.Tensor | None        # set only when the bias is not constant
    spec: ConvTransposeSpec
    activation: gs.Node | None = None    # a lowering that applies the node's activation itself (in nodes too)


def match_node(node: gs.Node, settings: RankBudget):
    """The shared preconditions of every ConvTranspose lowering: in scope, W of static shape, sizes resolvable.

    Returns None when the node is out of the settings' scope, a Skip saying why it cannot be lowered, or
    the match. Attributes that contradict each other raise UnsupportedGraph naming the node.
    """
    w_shape = weight_shape(node.inputs[1])
    if w_shape is None:
        return Skip("the weight's rank is unknown")
    rank = len(w_shape) - 2
    if settings.spatial_ranks is not None and rank not in settings.spatial_ranks:
        return None
    if settings.max_rank is not None and settings.max_rank < rank + 2:
        return settings.out_of_budget(f"ConvTranspose '{node.name}': --max-rank {settings.max_rank} is below the "
                                      f"rank {rank + 2} of its own input and output; no rewrite can reach it")
    constant = constant_shape(node.inputs[1]) is not None
    if not constant and any(d is None for d in known_dims(node.inputs[1], rank + 2)):
        return Skip(f"the weight's shape {list(w_shape)} is not static: the new kernels need its sizes")
    x = node.inputs[0]
    if x.shape is not None and len(x.shape) != rank + 2:
        raise UnsupportedGraph(f"ConvTranspose '{node.name}': input of rank {len(x.shape)} with a kernel of "
                               f"{rank} spatial dims (rank {rank + 2} expected)")
    x_dims = known_dims(x, rank + 2)
    try:
        spec = resolve(node.name, node.attrs, w_shape, x_dims[2:])
    except SymbolicOutputShape as e:
        return Skip(str(e))
    if x_dims[1] is not None and x_dims[1] != spec.in_channels:
        raise UnsupportedGraph(f"ConvTranspose '{node.name}': input has {x_dims[1]} channels but the weight "
                               f"expects {spec.in_channels}")
    bias_tensor = node.inputs[2] if len(node.inputs) > 2 and node.inputs[2].name else None
    bias = constant_value(bias_tensor) if bias_tensor is not None else None
    weight = constant_value(node.inputs[1]) if constant else None       # read only now: in scope, resolvable
    return ConvTransposeMatch((node,), x, node.outputs[0], weight, node.inputs[1], bias,
                              bias_tensor if bias is None else None, spec)
