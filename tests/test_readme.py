"""The README documents what exists, and its commands work."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

from collectfast import conf as conf_module
from collectfast.management.commands.collectstatic import Command
from collectfast.strategies import Strategy

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.rst").read_text()


def section(title: str) -> str:
    start = README.index(f"\n{title}\n{'=' * len(title)}\n")
    following = re.search(r"\n[^\n]+\n=+\n", README[start + len(title) + 2 :])
    end = start + len(title) + 2 + following.start() if following else len(README)
    return README[start:end]


def literal_blocks(text: str) -> list[str]:
    """reStructuredText literal blocks: the indented lines after '::'."""
    blocks = []
    for match in re.finditer(r"::\n\n((?:(?:    .*)?\n)+)", text):
        blocks.append(textwrap.dedent(match.group(1)).strip())
    return blocks


def test_every_setting_is_documented_with_type_default_and_example():
    names = [setting.name for setting in conf_module.SETTINGS]
    assert len(names) == 19  # the declarations themselves, not a regex over the source
    settings_section = section("Settings")
    for name in names:
        entry = settings_section.split(f"``{name}``\n", 1)
        assert len(entry) == 2, f"{name} is not documented"
        body = entry[1].split("\n\n", 1)[0]
        assert "default" in body, name
        assert "Example" in body, name


def test_every_collectfast_flag_is_documented():
    parser = Command().create_parser("manage.py", "collectstatic")
    from django.contrib.staticfiles.management.commands import collectstatic

    djangos = collectstatic.Command().create_parser("manage.py", "collectstatic")
    django_flags = {
        flag for action in djangos._actions for flag in action.option_strings
    }
    ours = {flag for action in parser._actions for flag in action.option_strings}
    for flag in ours - django_flags:
        assert f"``{flag}" in README, flag
    for flag in (
        "--noinput",
        "--dry-run",
        "--clear",
        "--link",
        "--ignore",
        "--no-default-ignore",
        "--no-post-process",
    ):
        assert flag in section("Usage")


def test_python_examples_compile_and_the_strategy_example_is_a_strategy():
    blocks = [b for b in literal_blocks(README) if "import " in b or "= {" in b]
    assert blocks
    for block in blocks:
        compile(block, "README.rst", "exec")
    example = next(b for b in blocks if "class SwiftStrategy" in b)
    namespace: dict[str, object] = {}
    exec(example, namespace)
    assert issubclass(namespace["SwiftStrategy"], Strategy)  # type: ignore[arg-type]


def test_setup_section_names_the_two_commands_ci_runs():
    setup = section("Setup: the two commands")
    assert "make demo" in setup
    assert "make test" in setup
    ci = (ROOT / ".ci/run").read_text()
    assert "make test" in ci


def test_the_demo_command_deploys_twice(tmp_path):
    """What `make demo` runs: the example project, against its own S3 server."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "example/demo.py")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summaries = re.findall(r"^\d+ static files? copied.*$", result.stdout, re.M)
    assert len(summaries) == 2
    assert summaries[1].startswith("0 static files copied, ")
    assert "Bucket check: all" in result.stdout
