"""structlog set-up: console in a terminal, JSON otherwise; secrets redacted."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

# Bearer tokens and our own key format, wherever they appear in a log value.
_SECRET_RE = re.compile(r"(vr-[A-Za-z0-9_\-]{8,})|(Bearer\s+\S+)|(sk-[A-Za-z0-9_\-]{8,})")
_SECRET_FIELDS = frozenset(
    {"authorization", "api_key", "secret", "token", "admin_token", "password"}
)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return (
            _SECRET_RE.sub("[REDACTED]", value)
            if ("vr-" in value or "Bearer" in value or "sk-" in value)
            else value
        )
    if isinstance(value, dict):
        return {
            k: ("[REDACTED]" if str(k).lower() in _SECRET_FIELDS else _scrub(v))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    return value


def redact_secrets(
    logger: Any, method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: no API key, bearer token or secret field reaches a log."""
    for k in list(event_dict):
        if k.lower() in _SECRET_FIELDS:
            event_dict[k] = "[REDACTED]"
        else:
            event_dict[k] = _scrub(event_dict[k])
    return event_dict


def configure_logging(fmt: str = "auto", level: str = "info") -> None:
    """Configure structlog for the process (console renderer on a TTY, else JSON)."""
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=True)
        if use_console
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            getattr(logging, level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
