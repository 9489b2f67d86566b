"""router_core/logs.py: the secret redactor and the renderers, through structlog's real chain."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from router_core.logs import (
    REDACTED,
    SecretRedactor,
    configure_logging,
    is_secret_name,
    settings_secrets,
)
from router_core.settings import parse_settings

KEY = "vr-" + "Zx9_-" * 8 + "abc"  # the router's key shape: vr- and 43 url-safe characters
OPENAI = "sk-proj-Abc123Def456Ghi789"
ANTHROPIC = "sk-ant-api03-Q1w2E3r4T5y6"
GOOGLE = "AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUv"
OPAQUE = "0paque-T0ken-With-No-Shape"


@pytest.fixture
def log_buffer() -> Iterator[io.StringIO]:
    """structlog and stdlib logging configured for real (JSON) into a buffer."""
    buf = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    configure_logging("json", "debug", secrets=[OPAQUE], stream=buf, cache=False)
    try:
        yield buf
    finally:
        structlog.reset_defaults()
        root.handlers, root.level = saved


def lines(buf: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"key {KEY} refused", KEY),
        (f"Authorization: Bearer {KEY}", KEY),
        ("authorization: bearer opaque-token-1234", "opaque-token-1234"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA=="),
        (f"upstream said: invalid api key {OPENAI}", OPENAI),
        (f"x-api-key: {ANTHROPIC}", ANTHROPIC),
        ("x-api-key: plainvalue123", "plainvalue123"),
        (f'{{"x-goog-api-key": "{GOOGLE}"}}', GOOGLE),
        (f"GET https://example.test/v1beta/models:generate?alt=sse&key={GOOGLE}", GOOGLE),
        ("https://example.test/x?key=short1&b=2", "short1"),
        ("redis://:hunter2hunter2@127.0.0.1:6379/0", "hunter2hunter2"),
        ("redis://admin:s3cr3t@cache:6379/0", "s3cr3t"),
        (f"configured secret {OPAQUE} leaked", OPAQUE),
    ],
)
def test_secret_shapes_are_redacted_in_strings(text: str, secret: str) -> None:
    out = SecretRedactor([OPAQUE]).scrub_str(text)
    assert secret not in out
    assert REDACTED in out


@pytest.mark.parametrize(
    "text",
    [
        "request_id=7f4470dfd9323ca07df004b6",
        "model=echo/echo-1 provider=echo",
        "prompt_tokens=5 completion_tokens=2",
        "the key_id is key_80a1c7ca3451d713",
        "https://api.example.test/v1/chat/completions",
        "risk-assessment and desk-research",
    ],
)
def test_ordinary_text_is_kept(text: str) -> None:
    assert SecretRedactor([OPAQUE]).scrub_str(text) == text


def test_header_names_keep_their_name_and_lose_the_value() -> None:
    out = SecretRedactor().scrub_str(f"Authorization: Bearer {KEY}")
    assert out.startswith("Authorization: ")
    assert out.count(REDACTED) == 1


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("api_key", True),
        ("X-Api-Key", True),
        ("x-goog-api-key", True),
        ("Authorization", True),
        ("admin_token", True),
        ("client_secret", True),
        ("db_password", True),
        ("key", True),
        ("cookie", True),
        ("key_id", False),
        ("prompt_tokens", False),
        ("completion_tokens", False),
        ("account_id", False),
        ("tokens", False),
    ],
)
def test_secret_field_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


def test_nested_values_and_objects_are_scrubbed() -> None:
    r = SecretRedactor()

    class Holder:
        def __str__(self) -> str:
            return f"Holder({KEY})"

    out = r.scrub(
        {
            "headers": {"Authorization": "anything", "X-Request-ID": "abc"},
            "attempts": [f"echo:{KEY}", ("tuple", OPENAI)],
            "raw": f"body with {GOOGLE}".encode(),
            "obj": Holder(),
            "n": 3,
            "ok": True,
            "none": None,
        }
    )
    text = json.dumps(out)
    for s in (KEY, OPENAI, GOOGLE):
        assert s not in text
    assert out["headers"] == {"Authorization": REDACTED, "X-Request-ID": "abc"}
    assert out["n"] == 3 and out["ok"] is True and out["none"] is None
    plain = object()
    assert r.scrub(plain) is plain  # objects without secrets are left for the renderer


def test_settings_secrets_finds_admin_token_and_provider_keys() -> None:
    settings = parse_settings(
        """
[auth]
admin_token = "env:ADMIN"
[providers.echo]
plugin = "echo"
[providers.up]
plugin = "echo"
[providers.up.settings]
api_key = "env:UP_KEY"
base_url = "https://up.example"
nested = { client_secret = "nest3d-s3cret" }
""",
        {"ADMIN": "admin-tok-123", "UP_KEY": "upstream-key-456"},
    )
    found = settings_secrets(settings)
    assert set(found) == {"admin-tok-123", "upstream-key-456", "nest3d-s3cret"}


def test_configured_json_log_redacts_everything(log_buffer: io.StringIO) -> None:
    log = structlog.get_logger("viberouter.test")
    log.info(
        "request",
        request_id=KEY,
        api_key=OPENAI,
        error_detail=f"upstream 401: invalid key {OPAQUE}",
        prompt_tokens=5,
        key_id="key_123",
    )
    try:
        raise ValueError(f"bad credentials {ANTHROPIC}")
    except ValueError:
        log.exception("upstream_failed", provider="anthropic")
    text = log_buffer.getvalue()
    for s in (KEY, OPENAI, OPAQUE, ANTHROPIC):
        assert s not in text
    first, second = lines(log_buffer)
    assert first["event"] == "request"
    assert first["level"] == "info"
    assert first["request_id"] == REDACTED
    assert first["api_key"] == REDACTED
    assert first["prompt_tokens"] == 5 and first["key_id"] == "key_123"
    assert "timestamp" in first
    assert second["event"] == "upstream_failed"
    assert "ValueError: bad credentials " + REDACTED in second["exception"]


def test_stdlib_logging_goes_through_the_same_chain(log_buffer: io.StringIO) -> None:
    logging.getLogger("aiohttp.server").error("Error handling request with %s", f"Bearer {KEY}")
    (line,) = lines(log_buffer)
    assert line["event"] == "Error handling request with Bearer " + REDACTED
    assert line["level"] == "error"
    assert line["logger"] == "aiohttp.server"


def test_level_filters_events() -> None:
    buf = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging("json", "warning", stream=buf, cache=False)
        log = structlog.get_logger("viberouter.test")
        log.info("quiet")
        log.warning("loud")
    finally:
        structlog.reset_defaults()
        root.handlers, root.level = saved
    assert [line["event"] for line in lines(buf)] == ["loud"]


def test_console_renderer_when_asked_and_redacted() -> None:
    buf = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging("console", "info", stream=buf, cache=False)
        structlog.get_logger("viberouter.test").info("request", status=200, request_id=KEY)
    finally:
        structlog.reset_defaults()
        root.handlers, root.level = saved
    text = buf.getvalue()
    assert KEY not in text
    assert "request" in text and "status=200" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_auto_format_is_json_when_not_a_terminal() -> None:
    buf = io.StringIO()  # not a TTY
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging("auto", "info", stream=buf, cache=False)
        structlog.get_logger("viberouter.test").info("started", port=8080)
    finally:
        structlog.reset_defaults()
        root.handlers, root.level = saved
    assert lines(buf) == [
        {"event": "started", "port": 8080, "level": "info", "timestamp": lines(buf)[0]["timestamp"]}
    ]
