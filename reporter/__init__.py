"""reporter: patch-compliance reports from CenturyLink Cloud Patching-as-a-Service results."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("reporter")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.1.0"

__all__ = ["__version__"]
