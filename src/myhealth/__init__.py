"""myHealth: one person's Oura Ring data, complete and fresh, in their own PostgreSQL."""

import sys
from importlib.metadata import PackageNotFoundError, version

# httpx imports its command-line tool, and with it rich, pygments and click when they are
# installed (rich is, for the collector's bars): a third of `myhealth collect`'s start-up for
# a tool we never run. Marking the module absent gives httpx its stub instead
# (docs/performance.md#incremental-run).
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

try:
    __version__ = version("myhealth")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"
