"""The package version, read once from the installed distribution's metadata (pyproject.toml is its source)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("access15")
except PackageNotFoundError:  # pragma: no cover - running from a source tree that was never installed
    __version__ = "0+unknown"
