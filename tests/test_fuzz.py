"""Hostile input: mutated ONNX files through every command that reads a model.

Each example writes one mutated file (byte flips, truncation, huge/negative/zero dims, zero or negative
strides, a kernel larger than its input, cycles, duplicate names, missing initializers, external data
outside the folder or missing or short, an opset or IR version from the future) and runs a command on
it in-process, so any exception escaping the CLI fails the test with its traceback. Every run must end
in exit 0/1/2, never a traceback; a model that is broken on purpose must be refused with exit 2 and one
line; a refused run writes nothing and leaves every input file byte for byte as it was. Bounded by
max_examples; the count is printed with -s.
"""
from __future__ import annotations

import hashlib
import os
import signal

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st
from onnx import numpy_helper

from onnxport import cli
from onnxport.models import conv, convtranspose, resize

pytestmark = pytest.mark.slow          # throws 1,000 hostile files at the commands

BASES = {
    "convtranspose": lambda: convtranspose.build([3, 4, 3], kernel=[2, 2, 2], strides=[2, 2, 2], consumer="Relu"),
    "conv": lambda: conv.build([5, 6], cin=2, cout=2, kernel=[3, 3], pads=[1, 1, 1, 1]),
    "resize": lambda: resize.build([1, 2, 3, 4, 4], scales=[1, 1, 2, 2, 2], mode="linear"),
}
COMMANDS = ["convert", "verify", "inspect", "shapes", "sizes"]
EXAMPLES = int(os.environ.get("ONNXPORT_FUZZ_EXAMPLES", 1000))     # benchmarks/fuzz_sweep.sh runs 5,000
TRIED = {"n": 0}


def _conv_like(model):
    return next(n for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose"))


def _set_ints(node, name, values):
    for a in node.attribute:
        if a.name == name:
            del a.ints[:]
            a.ints.extend(values)
            return
    node.attribute.append(onnx.helper.make_attribute(name, values))


# mutations of the model that make it invalid: (name, function(model, draw) -> model); each must be refused
def _huge_dim(m, draw):
    m.graph.input[0].type.tensor_type.shape.dim[draw(st.integers(0, 3))].dim_value = draw(
        st.sampled_from([2**31, 2**40, 2**62]))
    return m


def _negative_dim(m, draw):
    dim = m.graph.input[0].type.tensor_type.shape.dim[draw(st.integers(0, 3))]
    dim.dim_value = draw(st.integers(-5, -1))
    return m


def _bad_strides(m, draw):
    if not any(n.op_type in ("Conv", "ConvTranspose") for n in m.graph.node):
        return None
    node = _conv_like(m)
    rank = len(next(i for i in m.graph.initializer if i.name == node.input[1]).dims) - 2
    _set_ints(node, "strides", [draw(st.integers(-3, 0)) for _ in range(rank)])
    return m


def _kernel_larger_than_input(m, draw):
    if not any(n.op_type == "Conv" for n in m.graph.node):
        return None
    node = _conv_like(m)
    w = next(i for i in m.graph.initializer if i.name == node.input[1])
    big = [9, 9]
    w.CopyFrom(numpy_helper.from_array(np.ones(list(w.dims[:2]) + big, np.float32), w.name))
    _set_ints(node, "kernel_shape", big)
    _set_ints(node, "pads", [0, 0, 0, 0])
    return m


def _attribute_against_inputs(m, draw):
    """An attribute that contradicts the node's own inputs: kernel_shape vs the weight, pads/strides/
    dilations of the wrong length or sign, a group that does not divide the channels, Resize scales of
    the wrong length (each valid protobuf, each refused by onnxruntime at load)."""
    node = next((n for n in m.graph.node if n.op_type in ("Conv", "ConvTranspose", "Resize")), None)
    if node is None:
        return None
    if node.op_type == "Resize":
        scales = next(i for i in m.graph.initializer if i.name == node.input[2])
        scales.CopyFrom(numpy_helper.from_array(np.ones(draw(st.sampled_from([1, 3, 4, 7])), np.float32), scales.name))
        return m
    rank = len(next(i for i in m.graph.initializer if i.name == node.input[1]).dims) - 2
    kind = draw(st.sampled_from(["kernel_shape", "pads", "strides", "dilations", "negative_pads", "group"]))
    if kind == "kernel_shape":
        _set_ints(node, "kernel_shape", [draw(st.sampled_from([7, 999]))] * rank)
    elif kind == "negative_pads":
        _set_ints(node, "pads", [-1] * (2 * rank))
    elif kind == "group":
        node.attribute.append(onnx.helper.make_attribute("group", draw(st.sampled_from([3, 5]))))
    else:
        length = draw(st.sampled_from([n for n in range(1, 7) if n != (2 * rank if kind == "pads" else rank)]))
        _set_ints(node, kind, [1] * length)
    return m


def _cycle(m, draw):
    first, last = m.graph.node[0], m.graph.node[-1]
    first.input[0] = last.output[0]
    return m


def _duplicate_name(m, draw):
    if len(m.graph.node) < 2:
        return None
    m.graph.node[1].output[0] = m.graph.node[0].output[0]
    return m


def _missing_initializer(m, draw):
    inits = list(m.graph.initializer)
    victim = inits[draw(st.integers(0, len(inits) - 1))]
    m.graph.initializer.remove(victim)
    return m


def _future_opset(m, draw):
    m.opset_import[0].version = draw(st.integers(30, 1000))
    return m


def _old_opset(m, draw):
    """An older opset (1-16): the ops may not exist there or mean something else; valid or not, it is
    answered, never a traceback (may be valid: not counted as broken)."""
    m.opset_import[0].version = draw(st.integers(1, 16))
    return m


def _if_body(m, draw):
    """The first node moved into both branches of an If on a constant condition (its inputs read from
    the outer scope): a subgraph every command must walk or refuse (may be valid: not counted as broken)."""
    node = m.graph.node[0]
    inner = onnx.NodeProto()
    inner.CopyFrom(node)
    inner.output[0] = node.output[0] + "_in_branch"
    m.graph.initializer.append(numpy_helper.from_array(np.array(draw(st.booleans())), "if_condition"))

    def branch(name):
        out = onnx.helper.make_tensor_value_info(inner.output[0], onnx.TensorProto.FLOAT, None)
        return onnx.helper.make_graph([inner], name, [], [out])
    choice = onnx.helper.make_node("If", ["if_condition"], [node.output[0]], name="choice",
                                   then_branch=branch("then"), else_branch=branch("else"))
    m.graph.node.remove(node)
    m.graph.node.insert(0, choice)
    return m


def _future_ir(m, draw):
    m.ir_version = draw(st.integers(15, 100))
    return m


def _bad_data_type(m, draw):
    m.graph.initializer[0].data_type = draw(st.sampled_from([0, 99, 1000]))
    return m


def _short_raw_data(m, draw):
    t = max(m.graph.initializer, key=lambda i: len(i.raw_data))
    t.raw_data = t.raw_data[: len(t.raw_data) // 2]
    return m


MODEL_MUTATIONS = [_huge_dim, _negative_dim, _bad_strides, _kernel_larger_than_input, _attribute_against_inputs,
                   _cycle, _duplicate_name, _missing_initializer, _future_opset, _future_ir, _bad_data_type,
                   _short_raw_data]
MAYBE_VALID_MUTATIONS = [_old_opset, _if_body]
EXTERNAL_MUTATIONS = ["outside", "absolute", "missing_file", "short_file", "offset_past_end", "negative_offset"]


def _save_external(model, folder, mutation) -> None:
    path = folder / "m.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, location="m.data", size_threshold=0)
    m = onnx.load(str(path), load_external_data=False)
    big = max((t for t in m.graph.initializer if t.external_data), key=lambda t: np.prod(t.dims))
    entries = {e.key: e for e in big.external_data}
    if mutation == "outside":
        (folder.parent / "outside.bin").write_bytes(b"\0" * 4096)
        entries["location"].value = "../outside.bin"
    elif mutation == "absolute":
        entries["location"].value = "/etc/hostname"
    elif mutation == "missing_file":
        os.remove(folder / "m.data")
    elif mutation == "short_file":
        data = (folder / "m.data").read_bytes()
        (folder / "m.data").write_bytes(data[: len(data) // 2])
    elif mutation == "offset_past_end":
        entries["offset"].value = str(10**9)
    elif mutation == "negative_offset":
        entries["offset"].value = "-8"
    onnx.save(m, str(path))


@st.composite
def hostile_files(draw):
    base = draw(st.sampled_from(sorted(BASES)))
    kind = draw(st.sampled_from(["model", "model", "model", "bytes", "external"]))
    model = BASES[base]()
    if kind == "model":
        mutation = draw(st.sampled_from(MODEL_MUTATIONS + MAYBE_VALID_MUTATIONS))
        mutated = mutation(model, draw)
        if mutated is None:
            return base, "none", model.SerializeToString(), None, False
        return base, mutation.__name__, mutated.SerializeToString(), None, mutation not in MAYBE_VALID_MUTATIONS
    if kind == "external":
        return base, "external", model, draw(st.sampled_from(EXTERNAL_MUTATIONS)), True
    data = bytearray(model.SerializeToString())
    if draw(st.booleans()):                                  # truncation: always broken
        return base, "truncate", bytes(data[: draw(st.integers(0, len(data) - 1))]), None, True
    for _ in range(draw(st.integers(1, 8))):                 # byte flips: may still parse
        i = draw(st.integers(0, len(data) - 1))
        data[i] ^= 1 << draw(st.integers(0, 7))
    return base, "flip", bytes(data), None, False


def _snapshot(folder) -> dict:
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() and not p.is_symlink() else str(p.is_dir())
            for p in folder.rglob("*")}


OUTPUT_KINDS = ["fresh", "fresh", "existing", "symlink_to_input", "hardlink_to_input", "dangling_symlink", "folder",
                "report_is_input", "report_is_output"]
CASE_SECONDS = 60                       # a hang is a failure, not a stuck CI
CASE_MEMORY = 2 << 30                   # bytes of peak RSS any case may reach


def _status_bytes(field: str) -> int:
    """A /proc/self/status memory figure (VmRSS, VmHWM) in bytes."""
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise LookupError(field)


def _reset_peak_memory() -> int:
    """Start this process's peak RSS afresh (Linux: writing 5 to /proc/self/clear_refs) and return the RSS
    now: a case's growth is then what it allocated itself, whatever earlier tests left resident."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return _status_bytes("VmRSS")


class _TooSlow(BaseException):
    """Raised by SIGALRM in a case that runs past CASE_SECONDS (not caught by the CLI)."""


def _too_slow(signum, frame):
    raise _TooSlow()


def _output_argv(kind: str, folder, path) -> list[str]:
    """The -o (and --json) of a convert run, as careless or hostile as `kind` says."""
    out = folder.parent / "out.onnx"
    if kind == "existing":
        out.write_bytes(b"someone's file")
    elif kind == "symlink_to_input":
        out.symlink_to(path)
    elif kind == "hardlink_to_input":
        os.link(path, out)
    elif kind == "dangling_symlink":
        out.symlink_to(folder.parent / "nowhere" / "x.onnx")
    elif kind == "folder":
        out.mkdir()
    argv = ["-o", str(out)]
    if kind == "report_is_input":
        argv += ["--json", str(path)]
    elif kind == "report_is_output":
        argv += ["--json", str(out)]
    return argv


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=hostile_files(), command=st.sampled_from(COMMANDS), output=st.sampled_from(OUTPUT_KINDS))
def test_hostile_files_are_refused_in_one_line_and_nothing_is_written(tmp_path_factory, capsys, case, command, output):
    base, mutation, payload, external, broken = case
    folder = tmp_path_factory.mktemp("fuzz") / "in"
    folder.mkdir()
    path = folder / "m.onnx"
    if external:
        _save_external(payload, folder, external)
    else:
        path.write_bytes(payload)
    out_argv = _output_argv(output, folder, path) if command == "convert" else []
    before = _snapshot(folder.parent)
    argv = {"convert": ["convert", str(path)] + out_argv, "verify": ["verify", str(path), str(path)],
            "inspect": ["inspect", str(path)], "shapes": ["shapes", str(path)], "sizes": ["sizes", str(path)]}[command]
    previous = signal.signal(signal.SIGALRM, _too_slow)
    baseline = _reset_peak_memory()
    signal.alarm(CASE_SECONDS)
    try:
        code = cli.main(argv)                                # an escaping exception fails the test
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    _, err = capsys.readouterr()
    TRIED["n"] += 1
    event(f"{'broken' if broken else 'maybe valid'} -> exit {code}")
    event(f"{mutation} -> exit {code}")
    label = f"{base}/{mutation}/{external}/{command}/{output}"
    assert code in (0, 1, 2), code
    assert "Traceback" not in err
    assert _status_bytes("VmHWM") - baseline < CASE_MEMORY, f"{label}: memory"
    if broken or output not in ("fresh", "existing") and command == "convert":
        assert code == 2 or (not broken and output == "existing"), f"{label}: exit {code}, stderr {err!r}"
    if code == 2:
        assert err.startswith("onnxport: error:") and err.count("\n") == 1, f"{label}: {err!r}"
    after = _snapshot(folder.parent)
    assert not [p for p in after if p.name.startswith(".onnxport-")], f"{label}: a temporary was left"
    if code != 0 or command != "convert":
        assert after == before, f"{label}: files changed"
    else:
        assert {p: h for p, h in after.items() if p in before} == before, f"{label}: the input changed"


def test_the_fuzz_tried_cases():
    """Reports how many hostile files the sweep above ran (pytest -s shows it)."""
    print(f"fuzz: {TRIED['n']} hostile files tried")
    assert TRIED["n"] in (0, EXAMPLES)     # 0 when run alone; all of them after the sweep
