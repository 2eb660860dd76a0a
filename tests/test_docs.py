"""The README and docs/ show what runs: every `onnxport` line of a bash block, every python block and every
runtime profile (toml block) of a page is run, in order, in a fresh folder; every relative link points at a
file; the README stays a front door (under 150 lines)."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from onnxport import cli
from onnxport.converter import profiles

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
LINK = re.compile(r"\]\(([^)#\s]+)")


def runnable(page: Path) -> list[tuple[str, str]]:
    """(language, text) of each block this test runs: bash (its `onnxport` lines), python, toml."""
    found = []
    for language, text in FENCE.findall(page.read_text()):
        if language == "bash":
            text = "\n".join(line for line in text.splitlines() if line.startswith("onnxport "))
        if language in ("bash", "python", "toml") and text.strip():
            found.append((language, text))
    return found


SHOWING = [p for p in PAGES if runnable(p)]


@pytest.mark.parametrize("page", SHOWING, ids=[p.name for p in SHOWING])
def test_every_command_a_page_shows_runs_as_shown(page, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for number, (language, text) in enumerate(runnable(page)):
        where = f"{page.name}, block {number + 1}"
        if language == "bash":
            for line in text.splitlines():
                code = cli.main(shlex.split(line)[1:])
                assert code == 0, f"{where}: `{line}` exited {code}: {capsys.readouterr()}"
        elif language == "python":
            exec(compile(text, where, "exec"), {"__name__": "shown"})      # noqa: S102 - the page's own code
        else:
            (tmp_path / "shown.toml").write_text(text)
            assert profiles.load(str(tmp_path / "shown.toml")).constraints, where


def test_the_readme_tour_shows_each_command_it_is_about():
    """The tour cannot thin out unnoticed: convert, verify, sizes, strip-sizes, inspect, a profile, --html."""
    lines = "\n".join(text for language, text in runnable(ROOT / "README.md") if language == "bash")
    for shown in ("onnxport convert ", "onnxport verify ", "onnxport sizes ", "onnxport strip-sizes ",
                  "onnxport inspect ", "--target coreml", "--html "):
        assert shown in lines, shown
    assert any(language == "python" for language, _ in runnable(ROOT / "README.md"))


def test_the_readme_is_a_front_door_and_every_link_resolves():
    assert len((ROOT / "README.md").read_text().splitlines()) < 150
    for page in PAGES:
        for target in LINK.findall(page.read_text()):
            if "://" not in target:
                assert (page.parent / target).exists(), f"{page.name} links to {target}, which is not there"
