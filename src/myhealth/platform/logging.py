"""Structured logging: JSON lines when not on a terminal, readable text on one.

`configure(service, level)` is called once by each command; `service` and `version` are bound
to every line. Never log tokens, API keys or request bodies.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from myhealth import __version__

# structlog's console renderer imports rich, when it is installed, for tracebacks it would
# draw itself: 10 MB in every service, for tracebacks that `format_exc_info` below has already
# turned into text (docs/performance.md#idle-footprint). rich is hidden while structlog loads; the
# collector's progress bars import it as usual afterwards.
_HIDE_RICH = "rich" not in sys.modules
if _HIDE_RICH:
    sys.modules["rich"] = None  # type: ignore[assignment]  # `import rich` -> ImportError
try:
    import structlog
finally:
    if _HIDE_RICH:
        del sys.modules["rich"]

_SECRET_KEYS = {"authorization", "access_token", "refresh_token", "api_key", "password", "token"}


def _redact(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """Last line of defence: blank out values under keys that usually hold secrets."""
    for key in list(event):
        if key.lower() in _SECRET_KEYS:
            event[key] = "[redacted]"
    return event


class _CurrentStderr:
    """Writes to whatever `sys.stderr` is at the time of writing, not at `configure` time, so
    a command run in-process (tests capturing output) never leaves loggers on a closed file."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def configure(service: str, level: str = "info", *, json: bool | None = None) -> None:
    if json is None:
        json = not sys.stderr.isatty()
    numeric_level = logging.getLevelName(level.upper())
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service, version=__version__)
    # Libraries that use stdlib logging (uvicorn, httpx) go through the same renderer.
    handler = logging.StreamHandler(_CurrentStderr())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric_level)
    # uvicorn's access log is replaced by our own one-line-per-request log.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("httpx").setLevel(max(numeric_level, logging.WARNING))


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger
