"""Fuzzing `reachsim validate` with mutants of the shipped scenarios (Hypothesis).

Each case takes a shipped scenario and mutates it as a careless or hostile user might: values replaced (text for
numbers, booleans, infinities, NaN, huge and negative numbers, control characters, lists, mappings), keys deleted,
renamed or added, and the text itself cut short, salted with odd characters, or given YAML alias bombs and
recursive aliases; the mutant is written as YAML or JSON. Whatever the mutant, `reachsim validate` must

* exit 0 (the mutant is still a valid scenario) or 2, never 1 and never with a traceback;
* when it exits 2, print one ``file:line: ...`` line per problem (a few whole-file problems excepted), at most 50
  of them and then "… and N more", with no raw control character;
* answer within a time bound and without a large growth of memory.

A few hundred cases run by default; ``-m slow`` runs thousands, and also runs small versions of valid mutants
whose numbers were changed: each runs, or fails as a replication named by strategy, index and seed (never with
another error, and never silently with infinities or NaN in its results).
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import re
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reachsim.cli import main
from reachsim.core.problems import ScenarioError
from reachsim.experiments.runner import RunFailed, run_experiment
from reachsim.results.rundir import write_run_files
from reachsim.scenario.load import scenario_from_dict

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))
#: Seconds a case may take (validation takes milliseconds; generous for slow, busy machines).
TIME_BOUND = 10.0
#: Bytes the process's peak memory may grow by in one case.
MEMORY_BOUND = 300 * 2**20
#: Problems about the whole file, which have no line to point at.
WHOLE_FILE = ("the file is empty", "the file is larger than", "more than 100,000 keys, items and values;")
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

DEFAULT = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
SLOW = settings(max_examples=1_000, deadline=None, suppress_health_check=list(HealthCheck))

#: Cases run in this session, by outcome (for the record: `pytest -s tests/fuzz` prints them).
TALLY = {"valid": 0, "invalid": 0}


# ---------------------------------------------------------------------------------------------------------
# Mutations
# ---------------------------------------------------------------------------------------------------------

hostile_text = st.sampled_from(
    ["1000", "true", ".inf", "", " ", "\x1b[31mred\x1b[0m", "a\nb", "\u202eevil", "null", "~", "1e999", "0x10",
     "ünïcödé", "[1, 2]", "{a: 1}", "*alias", "&anchor", "!!python/name:os.system", "' or 1=1 --", "\t"]
)
values = st.one_of(
    hostile_text,
    st.text(max_size=20),
    st.booleans(),
    st.none(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 0.5, 1e308, -1e308, 5e-324, 2**63, 50_000_001]),
    st.lists(st.integers(-3, 3), max_size=3),
    st.dictionaries(st.sampled_from(["a", "dist", "low", "high", "type"]), st.integers(0, 3), max_size=2),
)


def paths(node: Any, here: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every location in plain data: mapping keys and list items, depth first."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*here, key)
            yield from paths(value, (*here, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield (*here, index)
            yield from paths(value, (*here, index))


def parent_of(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


@st.composite
def data_mutant(draw: st.DrawFn, data: Any) -> Any:
    """The scenario's data with one to three of: a value replaced, an entry deleted, a key renamed, a key added."""
    for _ in range(draw(st.integers(1, 3))):
        where = list(paths(data))
        if not where:
            break
        path = draw(st.sampled_from(where))
        parent, last = parent_of(data, path), path[-1]
        kind = draw(st.sampled_from(["replace", "replace", "replace", "delete", "rename", "add"]))
        if kind == "replace":
            parent[last] = draw(values)
        elif kind == "delete":
            del parent[last]
        elif kind == "rename" and isinstance(parent, dict):
            key = str(last)
            i = draw(st.integers(0, max(len(key) - 1, 0)))
            typo = draw(st.sampled_from([key[:i] + key[i + 1 :], key[:i] + "x" + key[i:], key.upper(), key + "s",
                                         draw(st.text(min_size=1, max_size=8))]))
            parent[typo] = parent.pop(last)
        elif kind == "add":
            target = parent[last] if isinstance(parent[last], dict) else parent
            if isinstance(target, dict):
                target[draw(st.sampled_from(["extends", "remove", "name", "seeed", "dist", "<<", "x"]))] = draw(values)
    return data


BOMB = "lol0: &l0 [a, a, a, a, a, a, a, a, a, a]\n" + "".join(
    f"lol{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 8)
)


@st.composite
def text_mutant(draw: st.DrawFn, text: str) -> str:
    """The scenario's text cut short, salted with odd characters, or given hostile YAML."""
    kind = draw(st.sampled_from(["truncate", "insert", "bomb", "recursive", "nested", "merge", "duplicate"]))
    if kind == "truncate":
        return text[: draw(st.integers(0, len(text)))]
    if kind == "insert":
        at = draw(st.integers(0, len(text)))
        salt = draw(st.sampled_from(["\t", "\x00", "\x1b", "\r", ":", "- ", "{", "]", "&a ", "*a", "!!binary ",
                                     "\u202e", "'", '"', "\ufeff", "%YAML 1.1\n", "---\n", "? "]))
        return text[:at] + salt + text[at:]
    if kind == "bomb":
        return text + BOMB
    if kind == "recursive":
        return text + draw(st.sampled_from(["loop: &loop [*loop]\n", "loop: &loop {self: *loop}\n",
                                            "loop: &loop {<<: *loop}\n", "a: &a [b, [c, *a]]\n"]))
    if kind == "nested":
        depth = draw(st.integers(50, 5_000))
        return text + "deep: " + "[" * depth + "]" * depth + "\n"
    if kind == "merge":
        return text.replace("strategies:\n", "defaults: &d {seed: 1}\nstrategies:\n  <<: *d\n", 1)
    lines = text.splitlines(keepends=True)
    index = draw(st.integers(0, len(lines) - 1))
    return "".join([*lines[: index + 1], lines[index], *lines[index + 1 :]])


#: libyaml's dumper where PyYAML has it (several times faster: the fuzzer writes thousands of files).
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@functools.cache
def shipped(scenario: Path) -> tuple[str, str]:
    """A shipped scenario's text and its data as JSON (parsed once; each case mutates a fresh copy)."""
    text = scenario.read_text(encoding="utf-8")
    return text, json.dumps(yaml.safe_load(text), default=str)


@st.composite
def mutants(draw: st.DrawFn, scenario: Path) -> tuple[str, str]:
    """(file suffix, text) of a mutant of ``scenario``."""
    text, data = shipped(scenario)
    if draw(st.integers(0, 3)) == 0:
        return ".yaml", draw(text_mutant(text))
    mutant = draw(data_mutant(json.loads(data)))
    if draw(st.booleans()):
        return ".json", json.dumps(mutant, indent=1, default=str)
    return ".yaml", yaml.dump(mutant, Dumper=DUMPER, sort_keys=False, allow_unicode=True)


# ---------------------------------------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------------------------------------


def peak_memory() -> int:
    """The process's peak resident memory so far, in bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def check(folder: Path, suffix: str, text: str) -> None:
    path = folder / f"mutant{suffix}"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    out, err = io.StringIO(), io.StringIO()
    memory, started = peak_memory(), time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["validate", str(path)])
    elapsed, grown = time.perf_counter() - started, peak_memory() - memory
    stderr = err.getvalue()
    assert code in (0, 2), (code, stderr, text)
    assert "Traceback" not in stderr and "Traceback" not in out.getvalue()
    assert elapsed < TIME_BOUND, (elapsed, text[:200])
    assert grown < MEMORY_BOUND, (grown, text[:200])
    if code == 0:
        TALLY["valid"] += 1
        # a valid file may draw warnings (an activity after the horizon, say), each a `file:line: warning:` line
        assert all(line.startswith(f"{path}:") and ": warning: " in line for line in stderr.splitlines()), stderr
        assert out.getvalue().startswith(f"{path}: ok (")
        return
    TALLY["invalid"] += 1
    lines = stderr.splitlines()
    assert 1 <= len(lines) <= 51, lines
    assert not CONTROL.search(stderr), stderr
    for line in lines:
        if line.startswith("… and ") and line.endswith(" more"):
            assert line is lines[-1] and len(lines) == 51
            continue
        assert line.startswith(f"{path}"), line
        rest = line[len(str(path)) :]
        assert re.match(r"^:\d+: \S", rest) or rest.startswith(tuple(f": {m}" for m in WHOLE_FILE)), line


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


@pytest.mark.parametrize("scenario", SHIPPED, ids=lambda p: p.stem)
def test_mutants_of_shipped_scenarios_exit_0_or_2_with_lines(folder: Path, scenario: Path) -> None:
    @DEFAULT
    @given(mutant=mutants(scenario))
    def case(mutant: tuple[str, str]) -> None:
        check(folder, *mutant)

    case()


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SHIPPED, ids=lambda p: p.stem)
def test_many_mutants_of_shipped_scenarios(folder: Path, scenario: Path) -> None:
    @SLOW
    @given(mutant=mutants(scenario))
    def case(mutant: tuple[str, str]) -> None:
        check(folder, *mutant)

    case()


numbers = st.one_of(
    st.sampled_from([0, 1, 2, 1e-9, 5e-324, 0.999999, 1e9, 1e14, 1e15]),
    st.floats(0, 1e15),
    st.integers(0, 10**6),
)


def _small(data: dict[str, Any]) -> dict[str, Any]:
    """A version that runs in a fraction of a second: 2,000 consumers, 30 days, one replication."""
    data.update(horizon_days=30, replications=1)
    data["market"]["size"] = 2_000
    for strategy in data["strategies"].values():
        strategy["timeline"] = [entry for entry in strategy.get("timeline", []) if entry["day"] < 30]
        for channel in strategy.get("channels", []):
            for key in ("initial_subscribers", "initial_fans"):
                if key in channel:
                    channel[key] = min(channel[key], 500)
    return data


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SHIPPED, ids=lambda p: p.stem)
def test_valid_mutants_run_or_fail_by_name(scenario: Path) -> None:
    base = _small(json.loads(shipped(scenario)[1]))
    fixed = {"horizon_days", "replications", "seed"}
    where = [p for p in paths(base) if p[0] not in fixed and _is_number(parent_of(base, p)[p[-1]])]

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(changes=st.lists(st.tuples(st.sampled_from(where), numbers), min_size=1, max_size=3))
    def case(changes: list[tuple[tuple[Any, ...], float]]) -> None:
        data = json.loads(json.dumps(base))
        for path, value in changes:
            parent_of(data, path)[path[-1]] = value
        try:
            scenario = scenario_from_dict(data, "mutant.yaml")
        except ScenarioError:
            return
        try:
            result = run_experiment(scenario)
        except RunFailed:
            return  # named: strategy, replication and seed (a huge budget a channel cannot spend, say)
        with tempfile.TemporaryDirectory() as out:
            write_run_files(result, out)  # finite numbers throughout: JSON refuses infinities and NaN

    case()


def test_the_fuzzer_makes_both_kinds_of_mutant() -> None:
    """Runs after the default cases (same module): both valid and invalid mutants came up, so the checks above
    were exercised on each (a fuzzer that only made broken files would prove little)."""
    if TALLY["valid"] + TALLY["invalid"] == 0:
        pytest.skip("run with the fuzz cases")
    print(f"fuzz cases: {TALLY['valid']} valid, {TALLY['invalid']} invalid")
    assert TALLY["valid"] > 0 and TALLY["invalid"] > 0
