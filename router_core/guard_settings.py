"""Config for the door guards: request size and shape limits, content filters."""

from __future__ import annotations

from typing import Any

from msgspec import Struct, field

#: The context-trimming transform a request opts into with `transforms: ["middle-out"]`.
MIDDLE_OUT = "middle-out"


class KeywordFilterSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    """The built-in ``keywords`` content filter: word and regex lists per direction."""

    #: Words or phrases refused in requests (any message text, tool-call arguments).
    input_keywords: list[str] = field(default_factory=list)
    #: Regular expressions (Python syntax) refused in requests.
    input_patterns: list[str] = field(default_factory=list)
    #: Words or phrases that end a response (streamed or not) when the model produces them.
    output_keywords: list[str] = field(default_factory=list)
    #: Regular expressions that end a response when the model's output matches.
    output_patterns: list[str] = field(default_factory=list)
    #: Match keywords and patterns without regard to letter case.
    ignore_case: bool = True
    #: Keywords match whole words only (a keyword "ass" does not match "class").
    whole_words: bool = True
    #: The message the client sees when this filter refuses content.
    message: str = "The content was blocked by a content filter"


#: Image media types fetched by default (what Gemini accepts inline).
IMAGE_TYPES = ["image/png", "image/jpeg", "image/webp", "image/gif", "image/heic", "image/heif"]


class ImageFetchSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    """``[guards.image_fetch]``: the router fetches ``https`` image URLs itself for
    providers that take images only inline (Gemini). SSRF-sensitive: the router makes
    requests to addresses clients choose; read docs/guards.md before enabling."""

    #: Fetch image URLs for providers that need inline images (off: they refuse URLs).
    enabled: bool = False
    #: Host name globs that may be fetched from ("*.example.com"); "*" = any host whose
    #: addresses are all public.
    allowed_hosts: list[str] = field(default_factory=lambda: ["*"])
    #: Largest image fetched, in bytes (larger: 400 invalid_request).
    max_bytes: int = 5 * 1024 * 1024
    #: Seconds one image may take: connect, answer and body.
    timeout_s: float = 10.0
    #: Media types accepted (the answer's Content-Type; others: 400 invalid_request).
    content_types: list[str] = field(default_factory=lambda: list(IMAGE_TYPES))
    #: Most image URLs fetched for one request.
    max_images: int = 8
    #: DANGEROUS: networks ("10.0.0.0/8", "127.0.0.1") fetched from although they are
    #: not public. Only for tests and for image servers on a trusted private network.
    allow_private: list[str] = field(default_factory=list)
    #: DANGEROUS: fetch plain http:// URLs too (tests, trusted private networks).
    allow_http: bool = False


class GuardSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    """``[guards]``: request shape limits, the context check, content filters."""

    #: Most messages in one request (more: 400 invalid_request).
    max_messages: int = 2048
    #: Most tools in one request (more: 400 invalid_request).
    max_tools: int = 128
    #: Check the prompt estimate plus the requested output against each model's
    #: context_length before any upstream call (400 context_length_exceeded).
    check_context: bool = True
    #: Transforms a client may name in the request's ``transforms`` list.
    allowed_transforms: list[str] = field(default_factory=lambda: ["middle-out"])
    #: Content filters to run, in order: entry point names in ``viberouter.filters``
    #: ("keywords" is built in). Empty: no content filtering.
    filters: list[str] = field(default_factory=list)
    #: Settings of the built-in ``keywords`` filter (used when ``filters`` names it).
    keywords: KeywordFilterSettings = field(default_factory=KeywordFilterSettings)
    #: Settings of third-party filters, one table per filter name (validated by the filter).
    filter_settings: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Characters of earlier output an output filter sees again with each streamed delta,
    #: so a match split across deltas is still found (longer matches may be missed).
    output_window_chars: int = 1024
    #: Image URLs the router fetches for providers that take images only inline.
    image_fetch: ImageFetchSettings = field(default_factory=ImageFetchSettings)
