"""Executable documentation: the Python examples in README.md and docs/ run, and the generated reference is fresh.

Every ```python block of a Markdown file runs, in order, in one fresh module namespace per file, from the
repository root. A block right after a ``<!-- no-run -->`` line is shown but not run.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

from reachsim.channels import registry
from reachsim.scenario import reference

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted({ROOT / "README.md", *(ROOT / "docs").glob("**/*.md")})
NO_RUN = "<!-- no-run -->"
_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def python_blocks(text: str) -> list[tuple[int, str, bool]]:
    """(line, code, runs) for each ```python block, in order."""
    blocks = []
    for match in _FENCE.finditer(text):
        if match.group(1) != "python":
            continue
        before = text[: match.start()].rstrip().rsplit("\n", 1)[-1].strip()
        line = text.count("\n", 0, match.start()) + 2
        blocks.append((line, match.group(2), before != NO_RUN))
    return blocks


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_docs_exist() -> None:
    for name in (
        "README.md",
        "docs/tutorial.md",
        "docs/design.md",
        "docs/extending.md",
        "docs/model/messenger.md",
        "docs/reference/scenario.md",
    ):
        assert (ROOT / name).is_file(), f"{name} is missing"


@pytest.mark.parametrize("path", DOCS, ids=_name)
def test_python_examples_run(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = [(line, code) for line, code, runs in python_blocks(path.read_text(encoding="utf-8")) if runs]
    if not blocks:
        pytest.skip("no Python examples")
    monkeypatch.chdir(ROOT)
    module = types.ModuleType(f"reachsim_docs_{path.stem.replace('-', '_')}")
    module.__file__ = str(path)
    sys.modules[module.__name__] = module  # pydantic and dataclasses look a class's module up here
    registered = set(registry.available())
    try:
        for line, code in blocks:
            try:
                exec(compile(code, f"{_name(path)}:{line}", "exec"), module.__dict__)
            except Exception as exc:
                raise AssertionError(f"{_name(path)}: the example at line {line} fails: {exc!r}") from exc
    finally:
        del sys.modules[module.__name__]
        for type_name in set(registry.available()) - registered:  # an example left a channel registered
            registry.unregister(type_name)


@pytest.mark.parametrize("path", DOCS, ids=_name)
def test_relative_links_resolve(path: Path) -> None:
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    broken = []
    for target in _LINK.findall(text):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        file = target.split("#", 1)[0]
        if not (path.parent / file).exists():
            broken.append(target)
    assert not broken, f"{_name(path)}: links to missing files: {', '.join(broken)}"


def test_reference_is_up_to_date() -> None:
    stale = reference.stale_files(ROOT / reference.REFERENCE_DIR)
    names = ", ".join(_name(p) for p in stale)
    assert not stale, (
        f"{names} no longer match the scenario schema: run `{reference.REGENERATE}` from the repository root "
        "and commit the result"
    )


def test_extending_guide_shows_the_example_plugin_verbatim() -> None:
    listing = (ROOT / "docs" / "examples" / "sms_channel.py").read_text(encoding="utf-8")
    guide = (ROOT / "docs" / "extending.md").read_text(encoding="utf-8")
    shown = [code for _, code, _ in python_blocks(guide)]
    body = listing.split('"""', 2)[2].lstrip("\n")  # the file without its module docstring
    assert body in shown, "docs/extending.md must show docs/examples/sms_channel.py (after its docstring) verbatim"


def test_check_mode_reports_a_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert reference.main(["--dir", str(tmp_path)]) == 0
    assert reference.main(["--check", "--dir", str(tmp_path)]) == 0
    (tmp_path / reference.MARKDOWN_NAME).write_text("old\n", encoding="utf-8")
    assert reference.main(["--check", "--dir", str(tmp_path)]) == 1
    assert reference.REGENERATE in capsys.readouterr().err


def test_reference_documents_every_shipped_field() -> None:
    text = reference.render_reference()
    for type_name in registry.BUILTIN:
        assert f'<a id="channel-{type_name}"></a>' in text
        for field in registry.available()[type_name].Params.model_fields:
            assert f"| `{field}` |" in text, f"{type_name}.{field} missing from the reference"
