"""Run settings: options over the config file over defaults; secrets refused in the file."""

import os
import re
from pathlib import Path

import pytest

from reporter.cli import build_parser
from reporter.config import DEFAULT_API_URL, settings_from_args
from reporter.errors import ConfigError, UsageError


def settings(argv: list[str], tmp_path: Path, env: dict | None = None, config: str | None = None):
    if config is not None:
        (tmp_path / "reporter.toml").write_text(config, encoding="utf-8")
    args = build_parser().parse_args(["run", "inv.csv", *argv])
    return settings_from_args(args, env=env or {}, cwd=tmp_path)


def test_defaults(tmp_path):
    result = settings([], tmp_path)
    assert result.formats == ("html", "pdf", "xlsx", "csv")
    assert result.api_url == DEFAULT_API_URL
    assert result.out == Path("reports")
    assert result.concurrency == 8 and result.retries == 5 and result.timeout == 30.0
    assert result.period is None


def test_environment_sets_urls(tmp_path):
    env = {
        "REPORTER_API_URL": "https://api.example/rest",
        "REPORTER_LOGIN_URL": "https://l.example",
    }
    result = settings([], tmp_path, env=env)
    assert result.api_url == "https://api.example/rest"
    assert result.login_url == "https://l.example"


def test_config_file_and_command_line_wins(tmp_path):
    config = (
        'title = "Monthly"\nformat = ["csv", "xlsx"]\n[run]\nout = "monthly"\naccount = "OSD"\n'
    )
    result = settings(["--out", "cli-out"], tmp_path, config=config)
    assert result.title == "Monthly"
    assert result.formats == ("csv", "xlsx")
    assert result.account == "OSD"
    assert result.out == Path("cli-out")


@pytest.mark.parametrize("key", ["password", "token", "user"])
def test_config_file_refuses_secrets(tmp_path, key):
    with pytest.raises(ConfigError, match="environment"):
        settings([], tmp_path, config=f'{key} = "hunter2"\n')


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ("title = \n", "not valid TOML"),
        ('colour = "blue"\n', "unknown key 'colour'"),
        ('concurrency = "many"\n', "wrong type"),
    ],
)
def test_bad_config_file(tmp_path, config, fragment):
    with pytest.raises(ConfigError, match=fragment):
        settings([], tmp_path, config=config)


def test_missing_explicit_config(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        settings(["--config", str(tmp_path / "nope.toml")], tmp_path)


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--format", "html,docx"], "unknown format docx"),
        (["--period", "2026-13"], "YYYY-MM"),
        (["--period", "October"], "YYYY-MM"),
        (["--concurrency", "0"], "concurrency"),
        (["--timeout", "-1"], "timeout"),
        (["--retries", "99"], "retries"),
        (["--email-attach", "pdf"], "email-attach"),
        (["--pdf-variant", "pdf/a-1b"], "pdf-variant"),
    ],
)
def test_bad_options(tmp_path, argv, fragment):
    with pytest.raises(UsageError, match=fragment):
        settings(argv, tmp_path)


def test_period_and_lists(tmp_path):
    result = settings(
        ["--period", "2026-10", "--email-to", "a@example.com, b@example.com", "--format", "PDF"],
        tmp_path,
    )
    assert str(result.period) == "2026-10"
    assert result.email_to == ("a@example.com", "b@example.com")
    assert result.formats == ("pdf",)


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ("concurrency = true\n", "concurrency must be a whole number, not true (a boolean)"),
        ("retries = 2.5\n", "retries must be a whole number, not 2.5"),
        ("timeout = false\n", "timeout must be a number, not false"),
        ("title = 3\n", "title must be text, not 3"),
        ("format = [1, 2]\n", "format must be text or a list of texts, not a list"),
        ("[run]\nout = {a = 1}\n", "out must be text, not a table"),
    ],
)
def test_config_values_of_the_wrong_type_are_one_clear_line(tmp_path, config, fragment):
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        settings([], tmp_path, config=config)


def test_deeply_nested_config_is_refused(tmp_path):
    config = "a = " + "[" * 50_000 + "]" * 50_000 + "\n"
    with pytest.raises(ConfigError, match="nested too deeply"):
        settings([], tmp_path, config=config)


def test_config_that_is_a_fifo_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "reporter.fifo"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        settings(["--config", str(fifo)], tmp_path)


def test_config_that_is_a_folder_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="is a folder"):
        settings(["--config", str(tmp_path)], tmp_path)


@pytest.mark.parametrize("period", ["9999-12", "0000-01"])
def test_period_whose_month_cannot_end_is_a_usage_error(tmp_path, period):
    with pytest.raises(UsageError, match="out of range"):
        settings(["--period", period], tmp_path)


def test_sign_off_grouping_columns_and_time_zone_from_the_config(tmp_path):
    config = (
        'prepared_by = "  Jane   Doe "\nreviewed_by = "Ann"\nclassification = "Confidential"\n'
        'group_by = ["owner", "environment"]\ncolumns = "owner"\ntimezone = "Europe/Paris"\n'
    )
    result = settings(["--columns", "owner,os"], tmp_path, config=config)
    assert (result.prepared_by, result.reviewed_by, result.approved_by) == ("Jane Doe", "Ann", None)
    assert result.classification == "Confidential"
    assert result.group_by == ("owner", "environment")
    assert result.columns == ("owner", "os")  # the command line wins
    assert result.timezone == "Europe/Paris"
    (tmp_path / "none").mkdir()
    defaults = settings([], tmp_path / "none")
    assert (defaults.columns, defaults.group_by, defaults.timezone) == (None, (), "UTC")


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "", "UTC+2"])
def test_a_zone_that_is_not_an_iana_name_is_a_usage_error(tmp_path, zone):
    with pytest.raises(UsageError, match="IANA time zone"):
        settings(["--timezone", zone], tmp_path)
