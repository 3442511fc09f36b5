"""The installed amend version (recorded in patches and reports), readable without importing the package root."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("amend")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
