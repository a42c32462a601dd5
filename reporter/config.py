"""Run settings: command-line options over the config file over built-in defaults.

Secrets never come from here: credentials and SMTP passwords stay in the environment.
"""

import argparse
import os
import stat
import tomllib
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reporter.errors import ConfigError, UsageError
from reporter.records import Period
from reporter.schema import REBOOT_POLICIES
from reporter.standard.baseline import DEFAULT_SLA_DAYS, NO_SEVERITY, SEVERITIES
from reporter.standard.inputs import DEFAULT_LOOKBACK_MONTHS

DEFAULT_API_URL = "https://patching.useast.appfog.ctl.io/rest"
DEFAULT_LOGIN_URL = "https://api.ctl.io/v2/authentication/login"
DEFAULT_SERVERS_API_URL = "https://api.ctl.io/v2"
LOGIN_PATH = "/authentication/login"  # where the Login API sits below the v2 API
DEFAULT_INVENTORY_FILE = "account-servers.csv"
FORMATS = ("html", "pdf", "xlsx", "csv")
HISTORY_FILE = "history.sqlite"  # in the output folder, unless --history names another file
CONFIG_FILE_NAME = "reporter.toml"
CONFIG_MAX_BYTES = 1024 * 1024  # a config file is a few lines; anything this big is not one


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("text")
    return value


def _integer(value: object) -> int:
    # TOML's true and false are Python bools, which are ints too: refuse them explicitly.
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("a whole number")
    return value


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("a number")
    return float(value)


def _history(value: object) -> str | bool:
    if isinstance(value, bool) or (isinstance(value, str) and value.strip()):
        return value
    raise TypeError("a path, or false to keep no history")


def _sla_days(value: object) -> dict[str, int]:
    """A table of severity -> whole days (``[sla_days]`` with ``Critical = 15``, ...)."""
    if not isinstance(value, dict):
        raise TypeError("a table of severity = whole days")
    days = {}
    for name, number in value.items():
        severity = SEVERITY_NAMES.get(str(name).strip().casefold())
        if severity is None:
            raise TypeError(
                f"a table whose keys are Critical, Important, Moderate, Low or none (not {name!r})"
            )
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 3650:
            raise TypeError(f"a table of whole days from 0 to 3650 ({name} = {number!r})")
        days[severity] = number
    return days


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError("true or false")
    return value


def _texts(value: object) -> str | list[str]:
    """Text (comma-separated) or a list of texts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    raise TypeError("text or a list of texts")


# Options a monthly job may keep in the config file; each matches a `reporter run` option
# and maps to the function that checks its type (raising TypeError naming what it wants).
CONFIG_KEYS: dict[str, Callable[[object], object]] = {
    "out": _text,
    "format": _texts,
    "period": _text,
    "account": _text,
    "api_url": _text,
    "login_url": _text,
    "concurrency": _integer,
    "timeout": _number,
    "retries": _integer,
    "title": _text,
    "email_to": _texts,
    "email_attach": _texts,
    "pdf_detail": _text,
    "pdf_variant": _text,
    "page_size": _text,
    "prepared_by": _text,
    "reviewed_by": _text,
    "approved_by": _text,
    "classification": _text,
    "group_by": _texts,
    "columns": _texts,
    "timezone": _text,
    "history": _history,
    "baseline": _text,
    "exceptions": _text,
    "sla_days": _sla_days,
    "reboot_pending": _text,
    "baseline_lookback_months": _integer,
    "servers_api_url": _text,
    "all_servers": _boolean,
    "completeness_check": _boolean,
    "data_center": _texts,
    "group": _text,
    "sign_key": _text,
}
# How the config's sla_days table may name each severity ("none" or "" for no severity).
SEVERITY_NAMES = {
    **{name.casefold(): name for name in SEVERITIES},
    "none": NO_SEVERITY,
    "": NO_SEVERITY,
    "no severity": NO_SEVERITY,
}
# Settings that change how the reports look, not their figures: a run keeps them in its
# run.json, and a re-render takes them from there unless they are chosen again.
PRESENTATION_SETTINGS = (
    "timezone",
    "group_by",
    "columns",
    "prepared_by",
    "reviewed_by",
    "approved_by",
    "classification",
)
# Every setting a re-render takes from the archive's run.json unless the user chose it.
RECORDED_SETTINGS = (
    "period",
    "title",
    "account",
    "data_center",
    "group",
    "baseline",
    "exceptions",
    "sla_days",
    "reboot_pending",
    "baseline_lookback_months",
    *PRESENTATION_SETTINGS,
)
SECRET_KEYS = {"password", "token", "bearer_token", "smtp_password", "user", "username"}


@dataclass(frozen=True)
class RunSettings:
    """Everything ``reporter run`` needs besides secrets.

    ``inventory`` may be None with ``from_archive`` (the archive's saved copy is used) and
    with ``all_servers`` (the account's active servers are the inventory).
    ``history`` is the history file, True for ``{out}/history.sqlite``, False for none.
    ``given`` names the settings the user chose (command line or config file): a re-render
    takes the others from the archive's run.json. ``baseline`` and ``exceptions`` are the
    standard's files (SPEC 4a), ``sla_days`` the days from release to deadline per severity
    ("" for none).
    ``servers_api_url`` None means beside the Login API (:func:`servers_api_beside`).
    """

    @property
    def reboot_pending_compliant(self) -> bool:
        """Whether Reboot pending counts as compliant in the compliance %."""
        return self.reboot_pending == "compliant"

    inventory: Path | None
    out: Path = Path("reports")
    formats: tuple[str, ...] = FORMATS
    period: Period | None = None
    account: str | None = None
    api_url: str = DEFAULT_API_URL
    login_url: str = DEFAULT_LOGIN_URL
    concurrency: int = 8
    timeout: float = 30.0
    retries: int = 5
    from_archive: Path | None = None
    title: str = "Patch compliance"
    email_to: tuple[str, ...] = ()
    email_attach: tuple[str, ...] = ()
    pdf_detail: str = "none"
    pdf_variant: str = "pdf/a-3u"
    page_size: str = "A4"
    prepared_by: str | None = None  # else the login's user name
    reviewed_by: str | None = None
    approved_by: str | None = None
    classification: str | None = None
    group_by: tuple[str, ...] = ()
    columns: tuple[str, ...] | None = None  # None: the first few attributes
    timezone: str = "UTC"
    timings: bool = False
    debug: bool = False
    history: Path | bool = True
    baseline: Path | None = None
    exceptions: Path | None = None
    sla_days: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_SLA_DAYS))
    reboot_pending: str = "compliant"  # how Reboot pending counts: one of REBOOT_POLICIES
    baseline_lookback_months: int = DEFAULT_LOOKBACK_MONTHS
    given: frozenset[str] = frozenset()
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    servers_api_url: str | None = None
    all_servers: bool = False
    completeness_check: bool = True
    data_centers: tuple[str, ...] = ()
    group: str | None = None
    sign_key: Path | None = None  # a PKCS#12 file; its password is in the environment

    @property
    def history_file(self) -> Path | None:
        """The history database this run records into, or None."""
        if self.history is True:
            return self.out / HISTORY_FILE
        return self.history or None


@dataclass(frozen=True)
class InventorySettings:
    """Everything ``reporter inventory`` needs besides secrets."""

    out: Path = Path(DEFAULT_INVENTORY_FILE)
    account: str | None = None
    login_url: str = DEFAULT_LOGIN_URL
    servers_api_url: str = DEFAULT_SERVERS_API_URL
    data_centers: tuple[str, ...] = ()
    group: str | None = None
    all_statuses: bool = False
    concurrency: int = 8
    timeout: float = 30.0
    retries: int = 5
    debug: bool = False
    env: Mapping[str, str] = field(default_factory=dict, repr=False)


def servers_api_beside(login_url: str) -> str:
    """The servers API base URL that goes with a Login API URL (SPEC 1a: the same v2 API).

    >>> servers_api_beside("https://api.ctl.io/v2/authentication/login")
    'https://api.ctl.io/v2'
    >>> servers_api_beside("https://login.example.com/token")
    'https://api.ctl.io/v2'
    """
    url = login_url.strip().rstrip("/")
    if url.lower().endswith(LOGIN_PATH):
        return url[: -len(LOGIN_PATH)]
    return DEFAULT_SERVERS_API_URL


def option_picker(args: argparse.Namespace, config: Mapping[str, Any]) -> Callable[..., Any]:
    """``pick(name, default=None)``: the command-line option ``name`` when given, else the
    config file's value, else ``default``."""

    def pick(name: str, default: Any = None) -> Any:
        value = getattr(args, name, None)
        if value is not None:
            return value
        return config.get(name, default)

    return pick


def settings_from_args(
    args: argparse.Namespace, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> RunSettings:
    """Merge ``reporter run`` options, the config file and the environment into settings."""
    env = dict(os.environ if env is None else env)
    config = load_config(args.config, cwd or Path.cwd())
    pick = option_picker(args, config)

    formats = split_list(pick("format", ",".join(FORMATS)), "format")
    unknown = [name for name in formats if name not in FORMATS]
    if unknown or not formats:
        raise UsageError(
            f"unknown format {', '.join(unknown) or '(none)'}: choose from {', '.join(FORMATS)}"
        )
    attach = split_list(pick("email_attach", ""), "email_attach")
    if bad := [name for name in attach if name not in ("xlsx", "csv")]:
        raise UsageError(f"--email-attach takes xlsx and csv, not {', '.join(bad)}")
    period_text = pick("period")
    concurrency, timeout, retries = request_limits(pick)
    pdf_detail = pick("pdf_detail", "none")
    if pdf_detail not in ("none", "all"):
        raise UsageError(f"pdf_detail must be none or all, not {pdf_detail!r}")
    pdf_variant = str(pick("pdf_variant", "pdf/a-3u")).lower()
    if pdf_variant not in ("pdf/a-3u", "none"):
        raise UsageError(f"--pdf-variant must be pdf/a-3u or none, not {pdf_variant!r}")
    page_size = str(pick("page_size", "A4"))
    if page_size.lower() not in ("a4", "letter"):
        raise UsageError(f"page size must be A4 or Letter, not {page_size!r}")
    archive = getattr(args, "from_archive", None)
    inventory = getattr(args, "inventory", None)
    all_servers = getattr(args, "all_servers", None)
    if all_servers is None:
        all_servers = bool(config.get("all_servers", False)) and inventory is None
    if all_servers and inventory is not None:
        raise UsageError("give an inventory file or --all-servers, not both")
    if not all_servers and not inventory and not archive:
        raise UsageError(
            "give the inventory CSV, or --all-servers to report every active server of the "
            "account (or --from-archive DIR)"
        )
    reboot_pending = str(pick("reboot_pending", "compliant")).strip().lower()
    if reboot_pending not in REBOOT_POLICIES:
        raise UsageError(
            f"reboot_pending must be {' or '.join(REBOOT_POLICIES)}, not {reboot_pending!r}"
        )
    lookback = int(pick("baseline_lookback_months", DEFAULT_LOOKBACK_MONTHS))
    if not 0 <= lookback <= 120:
        raise UsageError(f"baseline_lookback_months must be between 0 and 120, not {lookback}")
    baseline, exceptions = pick("baseline"), pick("exceptions")
    given = {name for name in RECORDED_SETTINGS if pick(name) is not None}
    login_url = pick("login_url") or env.get("REPORTER_LOGIN_URL") or DEFAULT_LOGIN_URL
    columns = pick("columns")
    return RunSettings(
        inventory=Path(inventory) if inventory else None,
        out=Path(pick("out", "reports")),
        formats=tuple(formats),
        period=Period.parse(period_text) if period_text else None,
        account=pick("account"),
        api_url=pick("api_url") or env.get("REPORTER_API_URL") or DEFAULT_API_URL,
        login_url=login_url,
        concurrency=concurrency,
        timeout=timeout,
        retries=retries,
        from_archive=Path(archive) if archive else None,
        title=pick("title", "Patch compliance"),
        email_to=tuple(split_list(pick("email_to", ""), "email_to")),
        email_attach=tuple(attach),
        pdf_detail=pdf_detail,
        pdf_variant=pdf_variant,
        page_size="Letter" if page_size.lower() == "letter" else "A4",
        prepared_by=one_line(pick("prepared_by")),
        reviewed_by=one_line(pick("reviewed_by")),
        approved_by=one_line(pick("approved_by")),
        classification=one_line(pick("classification")),
        group_by=tuple(split_list(pick("group_by", ""), "group_by")),
        columns=None if columns is None else tuple(split_list(columns, "columns")),
        timezone=check_timezone(str(pick("timezone", "UTC"))),
        timings=bool(getattr(args, "timings", False)),
        debug=bool(getattr(args, "debug", False)),
        history=history_setting(args, config),
        baseline=Path(baseline) if baseline else None,
        exceptions=Path(exceptions) if exceptions else None,
        sla_days={**DEFAULT_SLA_DAYS, **config.get("sla_days", {})},
        reboot_pending=reboot_pending,
        baseline_lookback_months=lookback,
        given=frozenset(given),
        env=env,
        servers_api_url=pick("servers_api_url")
        or env.get("REPORTER_SERVERS_API_URL")
        or servers_api_beside(login_url),
        all_servers=all_servers,
        completeness_check=pick("completeness_check", True),
        data_centers=tuple(split_list(pick("data_center", ""), "data_center")),
        group=pick("group"),
        sign_key=Path(pick("sign_key")) if pick("sign_key") else None,
    )


def history_setting(args: argparse.Namespace, config: Mapping[str, object]) -> Path | bool:
    """``--no-history``, else ``--history PATH``, else the config's ``history``, else True
    (the output folder's file)."""
    if getattr(args, "no_history", False):
        return False
    chosen = getattr(args, "history", None)
    if chosen is None:
        chosen = config.get("history", True)
    if isinstance(chosen, bool):
        return chosen
    return Path(str(chosen))


def history_file_for_listing(args: argparse.Namespace, cwd: Path | None = None) -> Path:
    """The history file ``reporter history`` reads: ``--history PATH``, else the config's
    ``history``, else ``history.sqlite`` in the config's ``out`` (default ``./reports``).

    Raises:
        UsageError: the config file turns history off and no ``--history`` is given.
    """
    config = load_config(getattr(args, "config", None), cwd or Path.cwd())
    chosen = history_setting(args, config)
    if chosen is False:
        raise UsageError("the config file sets history = false: give --history PATH")
    if chosen is True:
        return Path(str(config.get("out", "reports"))) / HISTORY_FILE
    return Path(chosen)


def inventory_settings_from_args(
    args: argparse.Namespace, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> InventorySettings:
    """Merge ``reporter inventory`` options, the config file and the environment into settings.

    The config file's URLs, account, concurrency, timeout and retries apply here too.
    """
    env = dict(os.environ if env is None else env)
    pick = option_picker(args, load_config(args.config, cwd or Path.cwd()))

    concurrency, timeout, retries = request_limits(pick)
    login_url = pick("login_url") or env.get("REPORTER_LOGIN_URL") or DEFAULT_LOGIN_URL
    return InventorySettings(
        out=Path(args.out or DEFAULT_INVENTORY_FILE),
        account=pick("account"),
        login_url=login_url,
        servers_api_url=pick("servers_api_url")
        or env.get("REPORTER_SERVERS_API_URL")
        or servers_api_beside(login_url),
        data_centers=tuple(split_list(pick("data_center", ""), "data_center")),
        group=pick("group"),
        all_statuses=bool(args.all_statuses),
        concurrency=concurrency,
        timeout=timeout,
        retries=retries,
        debug=bool(args.debug),
        env=env,
    )


def request_limits(pick: Callable[..., Any]) -> tuple[int, float, int]:
    """``--concurrency``, ``--timeout`` and ``--retries``, checked (UsageError if out of range)."""
    concurrency = int(pick("concurrency", 8))
    if not 1 <= concurrency <= 256:
        raise UsageError(f"--concurrency must be between 1 and 256, not {concurrency}")
    timeout = float(pick("timeout", 30.0))
    if not 0 < timeout <= 3600:
        raise UsageError(f"--timeout must be between 0 and 3600 seconds, not {timeout:g}")
    retries = int(pick("retries", 5))
    if not 0 <= retries <= 20:
        raise UsageError(f"--retries must be between 0 and 20, not {retries}")
    return concurrency, timeout, retries


def load_config(explicit: str | None, cwd: Path) -> dict:
    """Read the TOML config: ``--config FILE``, else ``./reporter.toml`` if present, else nothing.

    Keys are the long option names with ``_`` (``api_url``, ``email_to``), at the top level or
    under ``[run]``. Secrets are refused: they belong in the environment. A value of the
    wrong type (``concurrency = true``) is refused with one line naming the key.

    Raises:
        ConfigError: the file cannot be read, is not TOML, or holds a key or value it must not.
    """
    path = Path(explicit) if explicit else cwd / CONFIG_FILE_NAME
    if not explicit and not path.is_file():
        return {}
    try:
        data = tomllib.loads(read_config_text(path))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
    except RecursionError:
        raise ConfigError(f"config file {path} is nested too deeply to be a config") from None
    if isinstance(data.get("run"), dict):
        data = {**{k: v for k, v in data.items() if k != "run"}, **data["run"]}
    config = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name in SECRET_KEYS:
            raise ConfigError(
                f"config file {path} holds {key!r}: keep credentials in the environment "
                "(CLC_USER, CLC_PASSWORD or CLC_BEARER_TOKEN)"
            )
        check = CONFIG_KEYS.get(name)
        if check is None:
            raise ConfigError(
                f"config file {path}: unknown key {key!r} (known: {', '.join(sorted(CONFIG_KEYS))})"
            )
        try:
            config[name] = check(value)
        except TypeError as wanted:
            raise ConfigError(
                f"config file {path}: {key} must be {wanted}, not {describe_value(value)} "
                "(wrong type)"
            ) from None
    return config


def read_config_text(path: Path) -> str:
    """The text of a config file that is a regular, reasonably small UTF-8 file.

    Opened without blocking, so that a FIFO named by mistake is refused instead of hanging.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise ConfigError(f"config file {path} is {kind}")
    with open(fd, "rb") as handle:
        try:
            data = handle.read(CONFIG_MAX_BYTES + 1)
        except OSError as error:
            raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    if len(data) > CONFIG_MAX_BYTES:
        raise ConfigError(f"config file {path} is larger than {CONFIG_MAX_BYTES >> 20} MiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"config file {path} is not UTF-8 text: {error.reason}") from None


def describe_value(value: object) -> str:
    """How a TOML value reads in a message: ``true (a boolean)``, ``"many" (text)``."""
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, int | float):
        return f"{value!r} (a number)"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"{shown!r} (text)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def one_line(value: str | None) -> str | None:
    """A name or label as one line of text; None when empty."""
    text = " ".join(str(value).split()) if value is not None else ""
    return text or None


def check_timezone(name: str) -> str:
    """``name`` if it is an IANA time zone the system knows (``Europe/Paris``, ``UTC``).

    Raises:
        UsageError: it is not one (checked before anything is fetched).
    """
    name = name.strip()
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise UsageError(
            f"--timezone {name[:60]!r} is not an IANA time zone name "
            "(such as UTC, Europe/Paris or America/New_York)"
        ) from None
    return name


def split_list(value: str | list | tuple, name: str) -> list[str]:
    """``"a, b"`` or ``["a", "b"]`` -> ``["a", "b"]`` (lower-cased for formats)."""
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    cleaned = [str(item).strip() for item in items if str(item).strip()]
    if name in ("format", "email_attach"):
        cleaned = [item.lower() for item in cleaned]
    return cleaned
