"""The errors reporter expects, and the exit codes the command line turns them into.

Every expected failure is a :class:`ReporterError`; the CLI prints its message as one line
and exits with its ``exit_code``. Anything else is a bug (exit code 1).
"""

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes (SPEC 6)."""

    OK = 0
    INTERNAL_ERROR = 1
    USAGE = 2
    PROBLEMS = 3
    INTERRUPTED = 130


class ReporterError(Exception):
    """An expected failure that stops the run with one clear line."""

    exit_code: ExitCode = ExitCode.USAGE


class UsageError(ReporterError):
    """A command-line option or configuration value is wrong."""


class ConfigError(ReporterError):
    """The configuration file or environment is wrong or incomplete."""


class InventoryError(ReporterError):
    """The inventory file cannot be used at all (unreadable, not CSV, no server column, ...)."""


class BaselineError(ReporterError):
    """The baseline file cannot be used at all (unreadable, not CSV, no patch column, ...)."""


class ExceptionsError(ReporterError):
    """The exceptions file cannot be used at all (unreadable, not CSV, a column missing, ...)."""


class AuthenticationError(ReporterError):
    """Login failed, credentials are missing, or the API refused a fresh token."""


class ApiUnreachableError(ReporterError):
    """The API or login URL cannot be reached at all."""


class AccountListError(ReporterError):
    """The servers API cannot give the account's server list (403, 404, no answer, ...)."""


class InsecureUrlError(ReporterError):
    """A URL would send credentials over plain HTTP to a host that is not loopback."""


class ArchiveError(ReporterError):
    """An evidence archive given to ``--from-archive`` cannot be read."""


class OutputError(ReporterError):
    """The output folder is busy with another run, or a file cannot be written (disk full)."""


class HistoryError(ReporterError):
    """The history database cannot be used: not reporter's, newer, locked, or not writable."""


class SigningError(ReporterError):
    """The signing key, its certificate or its password cannot be used to sign the PDF."""


class DeliveryError(ReporterError):
    """The reports were written but could not be e-mailed."""


class RenderError(ReporterError):
    """A report could not be rendered (after data was fetched: not a usage error)."""

    exit_code = ExitCode.INTERNAL_ERROR
