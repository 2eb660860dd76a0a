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
import resource
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


MODEL_MUTATIONS = [_huge_dim, _negative_dim, _bad_strides, _kernel_larger_than_input, _cycle, _duplicate_name,
                   _missing_initializer, _future_opset, _future_ir, _bad_data_type, _short_raw_data]
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
        mutation = draw(st.sampled_from(MODEL_MUTATIONS))
        mutated = mutation(model, draw)
        if mutated is None:
            return base, "none", model.SerializeToString(), None, False
        return base, mutation.__name__, mutated.SerializeToString(), None, True
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


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
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
    signal.alarm(CASE_SECONDS)
    try:
        code = cli.main(argv)                                # an escaping exception fails the test
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    _, err = capsys.readouterr()
    TRIED["n"] += 1
    event(f"{'broken' if broken else 'maybe valid'} -> exit {code}")
    label = f"{base}/{mutation}/{external}/{command}/{output}"
    assert code in (0, 1, 2), code
    assert "Traceback" not in err
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 < CASE_MEMORY, f"{label}: memory"
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
    assert TRIED["n"] in (0, 1000)         # 0 when run alone; 1000 after the sweep
