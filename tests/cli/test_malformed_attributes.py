"""Attributes that contradict a node's inputs are refused up front: one line naming the node, exit 2,
nothing written, within seconds, by every command (converter.attribute_checks)."""
import time

import numpy as np
import onnx
import pytest
from onnx import helper

from onnxport import cli
from onnxport.converter import attribute_checks
from onnxport.converter.files import model_io

SECONDS = 10            # a refusal is a load-time check: a second or two, with room for a loaded CI machine


def mutate(example: str, op: str, change) -> tuple[onnx.ModelProto, str]:
    """The example with `change(node, model)` applied to its first `op` node, and that node's name."""
    model = model_io.load(f"example:{example}").model
    node = next(n for n in model.graph.node if n.op_type == op)
    change(node, model)
    return model, node.name


def set_ints(name, values):
    def change(node, _model):
        kept = [a for a in node.attribute if a.name != name]
        del node.attribute[:]
        node.attribute.extend(kept + [helper.make_attribute(name, values)])
    return change


def resize_scales(values):
    def change(node, model):
        name = node.input[2]
        kept = [t for t in model.graph.initializer if t.name != name]
        del model.graph.initializer[:]
        model.graph.initializer.extend(kept + [onnx.numpy_helper.from_array(np.asarray(values, np.float32), name)])
    return change


MALFORMED = {
    "kernel_shape vs weight": ("unet3d", "Conv", set_ints("kernel_shape", [999, 999, 999]), "kernel_shape"),
    "strides too short": ("unet3d", "Conv", set_ints("strides", [2, 2]), "strides has 2 values"),
    "negative pads": ("gan3d", "ConvTranspose", set_ints("pads", [-1, 0, 0, 0, 0, 0]), "pads"),
    "zero dilation": ("unet3d", "Conv", set_ints("dilations", [1, 0, 1]), "dilations"),
    "group not dividing": ("unet3d", "Conv", set_ints("group", 3), "group 3"),
    "output_padding too long": ("gan3d", "ConvTranspose", set_ints("output_padding", [0, 0, 0, 0]), "output_padding"),
    "resize scales of the wrong length": ("wolfram_resize3d", "Resize", resize_scales([1, 1, 2]), "scales"),
}


@pytest.mark.parametrize("command", ["convert", "sizes", "strip-sizes", "inspect", "shapes", "verify"])
@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_a_malformed_attribute_is_one_line_naming_the_node(kind, command, tmp_path, capsys):
    example, op, change, words = MALFORMED[kind]
    model, node = mutate(example, op, change)
    path = tmp_path / "in.onnx"
    onnx.save(model, str(path))
    before = path.read_bytes()
    out = tmp_path / "out.onnx"
    argv = {"convert": ["convert", path, "-o", out], "strip-sizes": ["strip-sizes", path, "-o", out],
            "verify": ["verify", path, path]}.get(command, [command, path])
    started = time.monotonic()
    code = cli.main([str(a) for a in argv])
    took = time.monotonic() - started
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert f"'{node}'" in err or f"node name: {node}" in err, err
    assert words in err, err
    assert took < SECONDS, f"{took:.1f} s"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.onnx"] and path.read_bytes() == before


def test_no_example_and_no_real_export_is_refused():
    """No false alarm on the examples or on any file of the zoo of real exports."""
    from onnxport.models import examples
    from tests.zoo import FILES, load
    for name in examples.EXAMPLES:
        attribute_checks.check_attributes(examples.build(name), name)
    for _, _, name in FILES:
        attribute_checks.check_attributes(load(name), name)
