"""Run reporter as ``python -m reporter``."""

from reporter.cli import entry_point

entry_point()
