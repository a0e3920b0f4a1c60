"""The README's commands are the ones CI runs and the CLI has, so they cannot silently rot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEST_COMMAND = ".venv/bin/python -m pytest"
DOCS = ("README.md", "CONFIGURATION.md", "READER.md", "SECURITY.md", "OPERATIONS.md")


def _shell_lines(markdown: str) -> list[str]:
    blocks = re.findall(r"```(?:sh|bash|console)\n(.*?)```", markdown, flags=re.DOTALL)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_readme_test_command_is_what_ci_runs() -> None:
    readme = _shell_lines((ROOT / "README.md").read_text(encoding="utf-8"))
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    commands = [line for line in readme if TEST_COMMAND in line]
    assert commands, f"the README has no command running {TEST_COMMAND!r}"
    assert any(line.strip() == TEST_COMMAND for line in ci), ".ci/run does not run the tests"
    for command in commands:
        assert command.rstrip().endswith(TEST_COMMAND), (
            f"README runs more than the tests: {command}"
        )


def test_readme_demo_command_uses_the_cli() -> None:
    readme = _shell_lines((ROOT / "README.md").read_text(encoding="utf-8"))
    demo = [line for line in readme if "secrets-agent demo" in line]
    if not demo:
        pytest.skip("the README has no demo command yet")
    assert any(".venv/bin/secrets-agent demo" in line for line in demo)
    assert any("pip install" in line for line in demo), "the demo command must set itself up"


@pytest.mark.parametrize("name", DOCS)
def test_relative_links_point_at_existing_files(name: str) -> None:
    path = ROOT / name
    if not path.exists():
        pytest.skip(f"{name} does not exist")
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text(encoding="utf-8")):
        if "://" in target or target.startswith("mailto:"):
            continue
        assert (ROOT / target).exists(), f"{name} links to missing {target}"
