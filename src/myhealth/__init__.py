"""myHealth: one person's Oura Ring data, complete and fresh, in their own PostgreSQL."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("myhealth")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"
