"""The planner's tools: reachsim staff, reachsim scenarios, reachsim init."""

from __future__ import annotations

from pathlib import Path

import pytest

from reachsim.cli import main
from reachsim.cli.shipped import question, shipped
from reachsim.model.queueing import ErlangA


def test_staff_finds_the_fewest_agents_of_a_published_erlang_c_table(capsys) -> None:
    """100 calls per 30 minutes, 180 s each, 80 % within 20 s: 14 agents (the ErlangC package's worked example)."""
    assert main(["staff", "--contacts-per-hour", "200", "--handle-minutes", "3", "--target", "80%/20s"]) == 0
    out = capsys.readouterr().out
    assert "fewest agents meeting the target: 14" in out
    assert "88.8%" in out  # the service level of 14 agents
    assert ErlangA(200 / 60, 1 / 3, 14, 0.0).service_level(20 / 60) == pytest.approx(0.88835, abs=5e-5)


def test_staff_with_patience_uses_erlang_a(capsys) -> None:
    assert main(["staff", "--contacts-per-hour", "200", "--handle-minutes", "3", "--target", "0.8/20s",
                 "--patience-minutes", "2"]) == 0
    out = capsys.readouterr().out
    assert "Erlang A" in out and "fewest agents meeting the target: 12" in out


@pytest.mark.parametrize(
    "args",
    [
        ["--contacts-per-hour", "0", "--handle-minutes", "3", "--target", "0.8/20s"],
        ["--contacts-per-hour", "200", "--handle-minutes", "3", "--target", "80/20s"],
        ["--contacts-per-hour", "200", "--handle-minutes", "3", "--target", "fast"],
        ["--contacts-per-hour", "200", "--handle-minutes", "nan", "--target", "0.8/20s"],
    ],
)
def test_staff_refuses_bad_arguments_with_exit_2(args: list[str], capsys) -> None:
    assert main(["staff", *args]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_scenarios_lists_every_shipped_scenario_with_its_question(capsys) -> None:
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    for name, path in shipped().items():
        assert name in out
        assert question(path).endswith("?"), f"{name}: its header's first paragraph should be its question"


def test_init_copies_a_scenario_and_never_overwrites(tmp_path: Path, capsys) -> None:
    assert main(["init", "flagship", str(tmp_path)]) == 0
    copy = tmp_path / "flagship.yaml"
    assert copy.read_bytes() == shipped()["flagship"].read_bytes()
    assert main(["validate", str(copy)]) == 0
    assert main(["init", "flagship", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["init", "flagshp", str(tmp_path)]) == 2
    assert "did you mean 'flagship'" in capsys.readouterr().err
