"""Interleaved timing (converter.timing), --strategy auto's margin, and its per-layer choice cache."""
import json
import os
import stat
import time

import onnx
import pytest

from onnxport.converter import auto_strategy, choice_cache, conversion
from onnxport.converter.verification import timing
from onnxport.models import convtranspose


def test_interleaved_rounds_measure_each_form_against_the_reference_in_the_same_round():
    calls = []
    forms = {"fast": lambda: (calls.append("fast"), time.sleep(0.002)),
             "slow": lambda: (calls.append("slow"), time.sleep(0.004))}
    result = timing.compare(forms, "fast", budget_s=2, min_rounds=6, repeats=1)
    assert result.rounds >= 6 and result.ratio["fast"] == timing.Spread(1.0, 1.0, 1.0)
    assert 1.4 < result.ratio["slow"].median < 2.6 and result.ratio["slow"].low <= result.ratio["slow"].high
    rounds = [calls[i:i + 2] for i in range(4, len(calls), 2)]         # after two warm-up calls each
    assert {tuple(r) for r in rounds} == {("fast", "slow"), ("slow", "fast")}     # shuffled, both orders seen


def ratios(**medians):
    return timing.Comparison({k: timing.Spread(v, v, v) for k, v in medians.items()},
                             {k: timing.Spread(v, v, v) for k, v in medians.items()}, 7)


@pytest.mark.parametrize("ratio_2d, chosen", [(0.95, "subpixel"), (0.91, "subpixel"), (0.85, "convtranspose2d"), (1.3, "subpixel")])
def test_a_later_form_wins_only_by_more_than_the_margin(monkeypatch, ratio_2d, chosen):
    assert auto_strategy.MARGIN == 0.10
    monkeypatch.setattr(timing, "compare", lambda forms, reference, **_: ratios(subpixel=1.0, convtranspose2d=ratio_2d))
    one = convtranspose.build([4, 4, 4], 4, 2, [2, 2, 2], strides=[2, 2, 2], consumer="Relu")
    forms = {s: conversion.convert_model(one, strategy=s)[0] for s in ("subpixel", "convtranspose2d")}
    found = auto_strategy._timed(one, forms, auto_strategy.Site("cpu"))
    assert found["strategy"] == chosen


def one_layer(seed: int = 0, strides=(2, 2, 2)) -> onnx.ModelProto:
    return convtranspose.build([4, 4, 4], 4, 2, [2, 2, 2], strides=list(strides), consumer="Relu", seed=seed)


def test_the_cache_key_is_the_layer_configuration_not_its_weights():
    key = choice_cache.key(one_layer(0), ["subpixel", "convtranspose2d"], "CPUExecutionProvider")
    assert key == choice_cache.key(one_layer(1), ["subpixel", "convtranspose2d"], "CPUExecutionProvider")
    assert key != choice_cache.key(one_layer(0, strides=(1, 1, 1)), ["subpixel", "convtranspose2d"], "CPUExecutionProvider")
    assert key != choice_cache.key(one_layer(0), ["subpixel"], "CPUExecutionProvider")
    assert key != choice_cache.key(one_layer(0), ["subpixel", "convtranspose2d"], "CUDAExecutionProvider")


FORMS = ["subpixel", "convtranspose2d"]


def test_a_cached_choice_is_kept_and_a_broken_cache_is_no_cache(tmp_path, monkeypatch):
    entry = {"strategy": "convtranspose2d", "timings_ms": {"subpixel": 2.0, "convtranspose2d": 1.0}, "rounds": 7}
    choice_cache.put("k", entry)                                   # no folder named: nothing kept, nothing written
    assert choice_cache.path() is None and choice_cache.get("k", FORMS) is None
    monkeypatch.setenv("ONNXPORT_CACHE_DIR", str(tmp_path / "cache"))
    choice_cache.put("k", entry)
    assert choice_cache.get("k", FORMS) == entry and choice_cache.get("other", FORMS) is None
    assert choice_cache.get("k", ["subpixel"]) is None             # a form no longer allowed: timed afresh
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [choice_cache.FILE_NAME]    # no temporary left
    choice_cache.path().write_text("{not json")
    assert choice_cache.get("k", FORMS) is None
    blocked = tmp_path / "file"
    blocked.write_text("")
    monkeypatch.setenv("ONNXPORT_CACHE_DIR", str(blocked / "cache"))          # a folder under a file
    choice_cache.put("k", entry)                                               # no cache, no error
    assert choice_cache.get("k", FORMS) is None


@pytest.mark.parametrize("poison", [
    {"k": {"strategy": 3, "timings_ms": {}}}, {"k": {"strategy": "conv2d", "timings_ms": {}}},
    {"k": {"strategy": "mystery", "timings_ms": {}}}, {"k": {"strategy": "subpixel", "timings_ms": {"subpixel": "1"}}},
    {"k": {"strategy": "subpixel", "timings_ms": {"subpixel": float("nan")}}}, {"k": {"strategy": "subpixel"}},
    {"k": "subpixel"}, [1, 2],
], ids=["number", "alias", "unknown", "string-timing", "nan-timing", "no-timings", "not-a-dict", "a-list"])
def test_a_poisoned_cache_entry_is_timed_afresh(poison, tmp_path, monkeypatch):
    monkeypatch.setenv("ONNXPORT_CACHE_DIR", str(tmp_path))
    choice_cache.path().write_text(json.dumps(poison))
    assert choice_cache.get("k", FORMS) is None


def test_a_deep_fifo_or_foreign_cache_file_is_no_cache_and_never_written_over(tmp_path, monkeypatch):
    """100,000-deep JSON and a FIFO named like the cache read as no cache (no traceback, no hang); a model's
    weights file of that name in that folder is left as it was."""
    monkeypatch.setenv("ONNXPORT_CACHE_DIR", str(tmp_path))
    entry = {"strategy": "subpixel", "timings_ms": {"subpixel": 1.0}}
    choice_cache.path().write_text("[" * 100_000 + "]" * 100_000)
    assert choice_cache.get("k", FORMS) is None
    choice_cache.path().unlink()
    os.mkfifo(choice_cache.path())
    assert choice_cache.get("k", FORMS) is None                    # returns at once: O_NONBLOCK, not a file
    choice_cache.put("k", entry)
    assert stat.S_ISFIFO(os.stat(choice_cache.path()).st_mode)
    choice_cache.path().unlink()
    weights = bytes(range(256)) * 64
    choice_cache.path().write_bytes(weights)
    choice_cache.put("k", entry)
    assert choice_cache.path().read_bytes() == weights
    assert sorted(p.name for p in tmp_path.iterdir()) == [choice_cache.FILE_NAME]


def counting(monkeypatch, *functions) -> dict:
    """Calls of each (module, name) from here on, by name."""
    calls = {name: 0 for _, name in functions}
    for module, name in functions:
        real = getattr(module, name)

        def counted(*a, _real=real, _name=name, **k):
            calls[_name] += 1
            return _real(*a, **k)
        monkeypatch.setattr(module, name, counted)
    return calls


def test_auto_makes_each_candidate_form_on_a_graph_with_no_proto_in_between(monkeypatch):
    """example:gan3d: 4 ConvTransposes, each cut out once (one proto -> graph); its 3 forms are made on
    copies of that graph (they once went through the whole engine: proto -> graph -> proto each); without
    timing, no form is exported, and the graph being converted is read as it is."""
    from onnxport.converter import shape_inference
    from onnxport.converter.files import graph_io
    from onnxport.models import examples
    graph = graph_io.to_graph(examples.build("gan3d"))
    calls = counting(monkeypatch, (graph_io, "to_graph"), (graph_io, "to_model"), (shape_inference, "infer"))
    choices = auto_strategy.choose(graph, ["no-convtranspose3d"], None, None, {"z": [1, 32, 1, 1, 1]}, None,
                                   conversion.lower_candidate)
    assert len(choices) == 4 and all(c.strategy == "subpixel" and not c.refused for c in choices)
    assert calls == {"to_graph": 4, "to_model": 0, "infer": 1}


def test_a_whole_auto_conversion_bounces_no_data(monkeypatch):
    """convert --strategy auto --no-timing on example:gan3d: 14 proto -> graph conversions, 29 shape
    inferences and 13 exports before; now the model's own (2, the one export) plus a cut per node."""
    from onnxport.converter import shape_inference
    from onnxport.converter.files import graph_io
    from onnxport.models import examples
    model = examples.build("gan3d")
    calls = counting(monkeypatch, (graph_io, "to_graph"), (graph_io, "to_model"), (shape_inference, "infer"))
    _, report = conversion.convert_model(model, strategy="auto", timing=False)
    assert len(report.choices) == 4 and not report.remaining
    assert calls == {"to_graph": 2 + 4, "to_model": 1, "infer": 5}


def test_a_conversion_with_fixed_sizes_goes_proto_to_graph_once(monkeypatch):
    from onnxport.converter.files import graph_io
    from onnxport.models import examples
    calls = counting(monkeypatch, (graph_io, "to_graph"))
    converted, report = conversion.convert_model(examples.build("unet3d"), fix_sizes={"X": (1, 1, 8, 8, 8)},
                                                 macs_at={"X": [1, 1, 8, 8, 8]})
    assert calls == {"to_graph": 1} and "fixed sizes" in " ".join(report.extras)
    assert [d.dim_value for d in converted.graph.input[0].type.tensor_type.shape.dim] == [1, 1, 8, 8, 8]


@pytest.mark.parametrize("targets", [None, ["tract"]], ids=["no-convtranspose", "profile-forbids-none"])
def test_auto_with_nothing_to_choose_converts_as_the_targets_ask(targets):
    """--strategy auto where no ConvTranspose needs a form (LeNet has none; the tract profile takes
    example:gan3d's): the conversion goes on, once a KeyError ('auto' is no pass)."""
    from onnxport.models import examples
    model = examples.build("gan3d" if targets else "lenet")
    converted, report = conversion.convert_model(model, targets=targets, strategy="auto")
    assert report.choices == [] and not report.remaining
    assert [n.op_type for n in converted.graph.node].count("ConvTranspose") == \
        [n.op_type for n in model.graph.node].count("ConvTranspose")
