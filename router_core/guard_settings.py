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
