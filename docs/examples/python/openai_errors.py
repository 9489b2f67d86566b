"""Handling VibeRouter's errors with the official openai SDK.

Every error is ``{"error": "<code>", "message": "<text>"}`` with an HTTP status; in a
stream that has started it is one ``data: {"error": ..., "message": ...}`` event, and
the stream ends. This script provokes four of them against the echo model:

* 401 invalid_api_key      a wrong key;
* 429 rate_limit_exceeded  a second request on a key limited to 1 request a minute
                           (set VIBEROUTER_LIMITED_API_KEY to such a key:
                           ``viberouter keys create <account> --rpm 1``);
* 502 model_error          the upstream fails (the echo's ``[[echo:status=500]]``);
* a mid-stream model_error after some text (the echo's ``[[echo:error-midstream]]``).

    VIBEROUTER_API_KEY=vr-... VIBEROUTER_LIMITED_API_KEY=vr-... python openai_errors.py

The SDK retries 429 and 5xx answers by itself (``max_retries``, 2 by default), waiting
as Retry-After says. This script turns that off to show the errors.
"""

import os

import openai
from openai import OpenAI

BASE_URL = os.environ.get("VIBEROUTER_BASE_URL", "http://127.0.0.1:8080/v1")
MODEL = os.environ.get("VIBEROUTER_MODEL", "echo")

# What a client should do about each error code.
ACTIONS = {
    "invalid_request": "fix the request; the message names the field",
    "invalid_model": "use a model listed by GET /v1/models",
    "context_length_exceeded": "shorten the messages or lower max_tokens",
    "content_filter": "change the content; retrying will not help",
    "invalid_api_key": "check the key (VIBEROUTER_API_KEY)",
    "expired_api_key": "ask the operator for a new key",
    "account_not_active": "ask the operator to reactivate the account",
    "rate_limit_exceeded": "wait Retry-After seconds, then retry",
    "quota_exceeded": "stop until the quota period resets",
    "concurrent_requests": "retry when one of your requests has finished",
    "server_error": "retry later; report the X-Request-ID to the operator",
    "model_error": "retry; the router already tried every deployment it has",
    "timeout": "retry, perhaps with a smaller max_tokens",
}


def client(api_key: str) -> OpenAI:
    return OpenAI(base_url=BASE_URL, api_key=api_key, max_retries=0)


def router_error(err: openai.APIStatusError) -> tuple[str, str]:
    """(code, message) from the router's error body."""
    try:
        doc = err.response.json()
    except ValueError:
        return "unknown", err.response.text
    return str(doc.get("error")), str(doc.get("message"))


def report(case: str, err: openai.APIStatusError) -> None:
    code, message = router_error(err)
    line = f"{case}: {err.status_code} {code}"
    retry_after = err.response.headers.get("retry-after")
    if retry_after is not None:
        line += f", retry after {retry_after} s"
    print(line)
    print(f"  message: {message}")
    print(f"  action: {ACTIONS.get(code, 'see the message')}")


def ask(api_key: str, text: str) -> str | None:
    reply = client(api_key).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": text}]
    )
    return reply.choices[0].message.content


# 1. A wrong key: AuthenticationError (401).
try:
    ask("vr-not-a-real-key", "hello")
except openai.AuthenticationError as err:
    report("unauthorized", err)

# 2. Over the rate limit: RateLimitError (429) with Retry-After.
limited_key = os.environ.get("VIBEROUTER_LIMITED_API_KEY")
if limited_key:
    try:
        for _ in range(2):
            ask(limited_key, "hello")
    except openai.RateLimitError as err:
        report("rate limited", err)
else:
    print("rate limited: skipped (set VIBEROUTER_LIMITED_API_KEY to a key with rpm=1)")

# 3. The upstream fails before answering: APIStatusError (502 model_error).
try:
    ask(os.environ["VIBEROUTER_API_KEY"], "hello [[echo:status=500]]")
except openai.APIStatusError as err:
    report("upstream failure", err)

# 4. The upstream fails mid-stream: the status was 200, so the error arrives as an
# event. The SDK raises APIError with the code as ``body``; keep what already arrived.
received = ""
stream = client(os.environ["VIBEROUTER_API_KEY"]).chat.completions.create(
    model=MODEL,
    messages=[
        {"role": "user", "content": "Count one two three four five [[echo:error-midstream]]"}
    ],
    stream=True,
)
try:
    for chunk in stream:
        for choice in chunk.choices:
            received += choice.delta.content or ""
except openai.APIError as err:
    code = err.body if isinstance(err.body, str) else "unknown"
    print(f"mid-stream: {code} after '{received.strip()}'")
    print(f"  action: {ACTIONS.get(code, 'see the message')}")
