"""`sizes` claims what it proved: the analysis where it is complete and onnxruntime agrees, the sizes that
ran where the analysis stops at a node or disagrees, the exported size where strip-sizes keeps an axis."""
from __future__ import annotations

from dataclasses import replace

from onnxport.converter import api, size_probe
from onnxport.converter.files import graph_io
from onnxport.converter.sizes import admissible_sizes
from onnxport.converter.sizes.size_sets import Progression, SizeSet
from onnxport.models import examples
from onnxport.models._builder import NetBuilder


def x_rows(model, up_to=24):
    return {a.axis: a for a in api.admissible_sizes(model, check_up_to=up_to) if a.input == "X"}


def stops_at_lp_normalization():
    """A strided Conv the analysis follows, then an op it does not model (its set only bounds)."""
    b = NetBuilder("probe", seed=1)
    x = b.input("X", ["N", 2, "H", "W"])
    b.output(b.op("LpNormalization", [b.conv(x, 2, 2, [2, 2], "c", strides=[2, 2])]))
    return b.build()


def test_past_a_node_it_cannot_follow_only_the_sizes_that_ran_are_claimed():
    a = x_rows(stops_at_lp_normalization())[2]
    assert a.bounded.startswith("unknown above 24: not followed past LpNormalization"), a.text()
    assert a.runs.finite and [n for n in range(1, 30) if n in a.runs] == list(range(2, 25)), a.text()
    assert a.text().startswith("runs at 2, 3, 4") and "of 1..24 (checked on onnxruntime" in a.text()


def test_a_complete_analysis_that_onnxruntime_confirms_keeps_its_endless_set():
    a = x_rows(examples.build("unet3d"))[2]
    assert a.complete and not a.bounded and a.runs.text() == "4 + 4n", a.text()
    assert a.check.up_to == 24 and a.check.ran == frozenset(range(4, 25, 4))
    assert a.text().endswith("checked on onnxruntime at 1..24")


def test_an_analysis_onnxruntime_disagrees_with_is_not_trusted_beyond_the_runs():
    """A wrong analysis (simulated: one more size claimed than runs) leaves only what ran."""
    model = examples.build("unet3d")
    rows = admissible_sizes.admissible_sizes(graph_io.to_graph(model))
    wrong = [r if r.axis != 2 else replace(r, runs=SizeSet.of([Progression(4, 4), Progression(5, 0)])) for r in rows]
    a = {r.axis: r for r in size_probe.check(model, wrong, up_to=20)}[2]
    assert a.bounded == "unknown above 20: the analysis (4, 5, 8 + 4n) and onnxruntime disagree at 5 (it does not " \
                        "run there)", a.bounded
    assert [n for n in range(1, 40) if n in a.runs] == [4, 8, 12, 16, 20]


def test_a_fixed_export_is_checked_through_its_freed_model_and_a_kept_axis_claims_its_size_only():
    lenet = examples.build("lenet")                       # a Gemm head: strip-sizes keeps H and W fixed
    a = x_rows(lenet)[2]
    assert [n for n in range(1, 40) if n in a.runs] == [28], a.text()
    assert a.text().startswith("runs at 28 only, as exported (strip-sizes keeps it fixed")
    assert "28, 29, 30, 31 only" in a.text()              # what the analysis finds is said, as the reason


def test_the_check_can_be_switched_off_and_then_claims_the_analysis():
    a = x_rows(stops_at_lp_normalization(), up_to=0)[2]
    assert a.check is None and a.text().startswith("unknown past LpNormalization") and "at most 2 + n" in a.text()


def test_the_budget_bounds_the_runs_and_says_so():
    rows = {r.axis: r for r in api.admissible_sizes(examples.build("unet3d"), check_up_to=48, budget_s=0.0)}
    a = rows[2]
    assert a.check is None and a.note_check == ("not checked on onnxruntime (the 0 s budget ended; --check-up-to "
                                                "sets how far)"), a.text()
    assert a.text().endswith("the 0 s budget ended; --check-up-to sets how far)") and a.runs.text() == "4 + 4n"
