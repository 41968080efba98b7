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


@pytest.mark.parametrize(
    ("args", "message"),
    [
        # 500,000 Erlangs offered: at least 400,000 agents even with patience, beyond what the tool sizes.
        (["--contacts-per-hour", "1e7", "--handle-minutes", "3", "--target", "0.8/20s", "--patience-minutes", "2"],
         "staffing is sized up to 100,000 agents"),
        (["--contacts-per-hour", "1e7", "--handle-minutes", "3", "--target", "0.8/20s"],
         "staffing is sized up to 100,000 agents"),
        (["--contacts-per-hour", "200", "--handle-minutes", "3", "--target", "0.8/20s", "--around", "100000000"],
         "--around: must be between 0 and 50"),
        (["--contacts-per-hour", "200", "--handle-minutes", "3", "--target", "0.8/20s", "--around", "-1"],
         "--around: must be between 0 and 50"),
    ],
)
def test_staff_refuses_loads_and_tables_beyond_its_bounds(args: list[str], message: str, capsys) -> None:
    assert main(["staff", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_staff_sizes_a_large_queue_with_patience(capsys) -> None:
    """A million contacts an hour (50,000 Erlangs) is sized by bracketing and bisection, not agent by agent; the
    answer meets the target and one agent fewer does not."""
    assert main(["staff", "--contacts-per-hour", "1e6", "--handle-minutes", "3", "--target", "0.8/20s",
                 "--patience-minutes", "2", "--around", "1"]) == 0
    out = capsys.readouterr().out
    best = int(out.rsplit("fewest agents meeting the target: ", 1)[1].split()[0])
    lam, mu, theta, target = 1e6 / 60, 1 / 3, 1 / 2, 20 / 60
    assert ErlangA(lam, mu, best, theta).service_level(target) >= 0.8 > ErlangA(lam, mu, best - 1, theta).service_level(
        target
    )


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
