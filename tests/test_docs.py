"""Every command and option is explained in --help and every command appears in the README."""

import argparse
import re
from pathlib import Path

import pytest

from reporter import __version__
from reporter.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_option_has_help(name):
    parser = subcommands()[name]
    assert parser.description, f"{name} has no description"
    assert "example" in (parser.epilog or ""), f"{name} --help shows no example"
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"reporter {name} {action.option_strings or action.dest} has no help"


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_command_in_readme(name):
    assert f"reporter {name}" in README


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_option_in_readme(name):
    for action in subcommands()[name]._actions:
        for option in action.option_strings:
            if option.startswith("--") and option != "--help":
                assert option in README, f"reporter {name} {option} is not in the README"


def test_help_runs(capsys):
    for name in subcommands():
        with pytest.raises(SystemExit) as stopped:
            main([name, "--help"])
        assert stopped.value.code == 0
    assert "usage: reporter" in capsys.readouterr().out


def test_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"reporter {__version__}"


def test_quick_start_is_what_ci_runs():
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.S)
    assert "pip install . && reporter demo" in blocks[0]
    assert 'pip install ".[test]" && pytest -n 2' in blocks[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "reporter demo" in ci and 'pip install -q ".[test]"' in ci and "pytest -n 2" in ci
