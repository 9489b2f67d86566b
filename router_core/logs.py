"""structlog set-up: console in a terminal, JSON otherwise; secrets redacted.

Every event, the router's own and those of libraries logging through the standard
library (aiohttp, asyncio), passes through ``SecretRedactor`` before it is rendered.
It redacts, wherever they appear in a value (nested dicts and lists, exception text
included): the router's API keys, bearer/basic credentials, provider key shapes
(``sk-...``, Google's ``AIza...``), credentials in URLs (``user:pass@``, ``?key=``),
header-style ``x-api-key: ...`` pairs, every value of a field whose name says it is
a secret, and the exact secrets the config holds (admin token, provider keys).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import re
import sys
import time
from collections.abc import Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, TextIO

import msgspec
import structlog

if TYPE_CHECKING:
    from router_core.settings import Settings

REDACTED = "[REDACTED]"

# One alternation, compiled once; groups named keep_* survive the substitution.
_SECRET_RE = re.compile(
    r"(?P<vr>vr-[A-Za-z0-9_\-]{8,})"
    r"|(?P<sk>\bsk-[A-Za-z0-9_\-]{8,})"
    r"|(?P<google>\bAIza[0-9A-Za-z_\-]{20,})"
    r"|(?P<keep_scheme>\b(?i:bearer|basic)\s+)[A-Za-z0-9._~+/=\-]{4,}"
    r"|(?P<keep_header>\b(?i:authorization|x-api-key|api-key|x-goog-api-key)[\"']?\s*[:=]\s*"
    r"[\"']?)(?:(?i:bearer|basic)\s+)?[^\s\"',;}]+"
    r"|(?P<keep_query>[?&](?i:key|api_key|apikey|token|access_token|sig|signature)=)[^&#\s\"']+"
    r"|(?P<keep_userinfo>://[^/\s:@]*:)[^@\s/]+@"
)
_SECRET_NAMES = frozenset(
    {
        "authorization",
        "proxy_authorization",
        "api_key",
        "apikey",
        "key",
        "secret",
        "token",
        "password",
        "passwd",
        "cookie",
        "set_cookie",
        "x_api_key",
        "x_goog_api_key",
    }
)
_SECRET_SUFFIXES = ("_secret", "_password", "_api_key", "_apikey", "_token", "_private_key")
_PLAIN = (int, float, bool, type(None))


def is_secret_name(name: str) -> bool:
    """True for field names whose values are secrets (``api_key``, ``X-Api-Key``,
    ``admin_token`` ...); ``key_id`` or ``prompt_tokens`` are not."""
    n = name.lower().replace("-", "_")
    return n in _SECRET_NAMES or n.endswith(_SECRET_SUFFIXES)


def _replace(m: re.Match[str]) -> str:
    for group in ("keep_scheme", "keep_header", "keep_query"):
        kept = m.group(group)
        if kept is not None:
            return kept + REDACTED
    kept = m.group("keep_userinfo")
    if kept is not None:
        return kept + REDACTED + "@"
    return REDACTED


#: Fields the router fills itself from values it generated (ids, numbers, its own
#: names): never client text, so the per-line regex scan is skipped for them.
TRUSTED_FIELDS = frozenset(
    {
        "level",
        "timestamp",
        "status",
        "latency_ms",
        "key_id",
        "account_id",
        "stream",
        "provider",
        "prompt_tokens",
        "completion_tokens",
        "client_disconnected",
        "stream_error",
    }
)
#: The access line's own fields from router values: the error code, the dialect's
#: name, the attempts (deployment ids from the config and outcome codes).
ACCESS_TRUSTED_FIELDS = TRUSTED_FIELDS | {"error", "endpoint", "attempts"}
_CACHE_MAX = 4096
_CACHE_LEN = 256


class SecretRedactor:
    """structlog processor: no API key, credential or configured secret reaches a log."""

    def __init__(self, known: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        self._known = tuple(sorted({s for s in known if len(s) >= 4}, key=len, reverse=True))
        # Short strings repeat (model names, paths): scrub each once.
        self.cache: dict[str, str] = {}

    def scrub_str(self, value: str) -> str:
        """``value`` with every secret in it replaced."""
        cached = self.cache.get(value)
        if cached is not None:
            return cached
        cleaned = value
        for secret in self._known:
            if secret in cleaned:
                cleaned = cleaned.replace(secret, REDACTED)
        cleaned = _SECRET_RE.sub(_replace, cleaned)
        if len(value) <= _CACHE_LEN:
            if len(self.cache) >= _CACHE_MAX:
                self.cache.clear()
            self.cache[value] = cleaned
        return cleaned

    def scrub(self, value: Any) -> Any:
        """``value`` (of any type) with every secret in it replaced."""
        if isinstance(value, _PLAIN):
            return value
        if isinstance(value, str):
            return self.scrub_str(value)
        if isinstance(value, Mapping):
            return {
                k: (REDACTED if is_secret_name(str(k)) else self.scrub(v)) for k, v in value.items()
            }
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self.scrub(v) for v in value]
        if isinstance(value, (bytes, bytearray)):
            return self.scrub_str(bytes(value).decode("utf-8", "replace"))
        # Anything else is rendered through str() (JSON) or repr() (console); keep the
        # object unless its text holds a secret.
        text = str(value)
        cleaned = self.scrub_str(text)
        return value if cleaned == text else cleaned

    def __call__(
        self, logger: Any, method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for k in list(event_dict):
            if k in TRUSTED_FIELDS or k.startswith("_"):
                continue  # router-generated values; structlog internals (_record ...)
            event_dict[k] = REDACTED if is_secret_name(k) else self.scrub(event_dict[k])
        return event_dict


#: The redactor for events logged before configure_logging (no known secrets).
redact_secrets = SecretRedactor()


def settings_secrets(settings: Settings) -> list[str]:
    """The exact secrets a config holds: the admin token and every provider setting
    whose name says it is a secret (after ``env:`` resolution)."""
    found: list[str] = []
    if settings.auth.admin_token:
        found.append(settings.auth.admin_token)

    def walk(node: Any, secret: bool) -> None:
        if isinstance(node, str):
            if secret and node:
                found.append(node)
        elif isinstance(node, Mapping):
            for k, v in node.items():
                walk(v, secret or is_secret_name(str(k)))
        elif isinstance(node, (list, tuple)):
            for v in node:
                walk(v, secret)

    for provider in settings.providers.values():
        walk(provider.settings, False)
    return found


_json = msgspec.json.Encoder(enc_hook=str)


def _json_dumps(obj: Any, **_: Any) -> str:
    return _json.encode(obj).decode()


def _renderer(fmt: str, stream: TextIO) -> Any:
    use_console = fmt == "console" or (fmt == "auto" and stream.isatty())
    if use_console:
        return structlog.dev.ConsoleRenderer(colors=stream.isatty())
    return structlog.processors.JSONRenderer(serializer=_json_dumps)


class BatchedLogger:
    """Writes rendered lines in batches: at most ``delay`` seconds late, or at once
    when ``limit`` lines are waiting or no event loop runs (CLI, start-up, shutdown).

    A line per write() plus flush() per request costs a system call each; on a busy
    router batching turns thousands of them into a few per second.
    """

    def __init__(self, out: TextIO, delay: float = 0.05, limit: int = 256) -> None:
        self._out = out
        self._delay = delay
        self._limit = limit
        self._lines: list[str] = []
        self._scheduled = False

    def msg(self, message: str) -> None:
        self._lines.append(message)
        if len(self._lines) >= self._limit:
            self.flush()
            return
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._scheduled = True
        loop.call_later(self._delay, self.flush)

    log = debug = info = warn = warning = error = err = critical = exception = fatal = msg

    def flush(self) -> None:
        """Write every waiting line now."""
        self._scheduled = False
        if not self._lines:
            return
        lines, self._lines = self._lines, []
        try:
            self._out.write("\n".join(lines) + "\n")
            self._out.flush()
        except (OSError, ValueError):
            pass  # stderr closed (shutdown): nothing left to tell


_batched: list[BatchedLogger] = []


class AccessLog:
    """The one-line-per-request access log.

    By default it logs through structlog like any event. The server switches it to a
    direct path (``enable_fast``): the same JSON keys and the same redaction, but
    encoded with msgspec straight into the batched writer, skipping the generic
    processor chain that costs more than the rest of a request's bookkeeping.
    """

    def __init__(self) -> None:
        self._log = structlog.get_logger("viberouter.access")
        self._writer: BatchedLogger | None = None
        self._redactor: SecretRedactor | None = None
        self._second = -1
        self._stamp = ""
        # Field names come from the code, a few dozen: each is judged once.
        self._secret_names: dict[str, bool] = {}

    def enable_fast(self, writer: BatchedLogger, redactor: SecretRedactor) -> None:
        self._writer, self._redactor = writer, redactor

    def disable_fast(self) -> None:
        self._writer = self._redactor = None

    def _timestamp(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._stamp}.{int((now - second) * 1e6):06d}Z"

    def write(self, fields: dict[str, Any], *, trusted_id: bool = False) -> None:
        """Log one request's fields (``fields`` is consumed); ``trusted_id``: the
        request id was generated here, not sent by the client."""
        writer, redactor = self._writer, self._redactor
        if writer is None or redactor is None:
            self._log.info("request", **fields)
            return
        names = self._secret_names
        trusted = ACCESS_TRUSTED_FIELDS
        scrubbed = redactor.cache  # the redactor's own cache, read here without a call
        for k, v in fields.items():
            # the trusted names first: most fields are one, and a set lookup is no call
            if k in trusted or isinstance(v, _PLAIN) or (trusted_id and k == "request_id"):
                continue
            secret = names.get(k)
            if secret is None:
                if len(names) >= _CACHE_MAX:
                    names.clear()
                secret = names[k] = is_secret_name(k)
            if secret:
                fields[k] = REDACTED
            elif type(v) is str:
                clean = scrubbed.get(v)
                fields[k] = clean if clean is not None else redactor.scrub_str(v)
            else:
                fields[k] = redactor.scrub(v)
        fields["event"] = "request"
        fields["level"] = "info"
        fields["timestamp"] = self._timestamp()
        writer.msg(_json.encode(fields).decode())


#: The process's access log (logging is process-wide by nature, like structlog's config).
access_log = AccessLog()


def flush_logs() -> None:
    """Write every batched line now (clean shutdown)."""
    for logger in _batched:
        logger.flush()


def configure_logging(
    fmt: str = "auto",
    level: str = "info",
    *,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
    cache: bool = True,
    batch: bool = False,
) -> SecretRedactor:
    """Configure structlog and the standard library's root logger for the process.

    ``fmt``: "console", "json", or "auto" (console on a terminal, JSON otherwise).
    ``secrets``: exact strings to redact besides the shapes the redactor knows.
    ``stream``: where lines go (stderr by default). ``cache=False`` lets a later call
    reconfigure loggers already used (tests). ``batch`` writes lines in batches (at
    most 50 ms late; flushed at exit): the server uses it. Returns the redactor in use.
    """
    out = stream if stream is not None else sys.stderr
    redactor = SecretRedactor(secrets)
    renderer = _renderer(fmt, out)
    numeric = getattr(logging, level.upper(), logging.INFO)
    # Exceptions are formatted before redaction so their text is scrubbed too.
    shared: list[Any] = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redactor,
    ]
    factory: Any = structlog.PrintLoggerFactory(file=out)
    access_log.disable_fast()  # the structlog path, unless enabled below
    if batch:
        batched = BatchedLogger(out)
        _batched.append(batched)
        atexit.register(batched.flush)
        factory = lambda *args: batched  # noqa: E731
        if not isinstance(renderer, structlog.dev.ConsoleRenderer) and numeric <= logging.INFO:
            access_log.enable_fast(batched, redactor)
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, *shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=factory,
        cache_logger_on_first_use=cache,
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(numeric)
    return redactor
