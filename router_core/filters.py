"""Content filters: the contract, the built-in ``keywords`` filter, the loader.

A content filter is a class registered under the entry point group
``viberouter.filters`` and enabled by naming it in ``guards.filters``. It is built
once at start-up with its settings (an instance of its ``settings_type`` Struct
when it declares one, validated from ``guards.filter_settings.<name>``) and is
called on the request path, so it must not block:

* ``check_input(request)`` sees every request before any upstream call;
* ``check_output(text)`` sees the model's output: a whole message for a
  non-streamed answer, and for a stream each new delta preceded by up to
  ``guards.output_window_chars`` characters of earlier output (so a match split
  across deltas is still found, and the cost per delta stays bounded).

Either raises :class:`~router_core.errors.ContentFilter` to refuse: before the
response starts the client gets 400 ``content_filter``; in a stream already
started it gets one ``data: {"error": "content_filter", ...}`` event and the
stream ends.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol

import msgspec

from router_core import discovery
from router_core.api.chat import ChatCompletion, ChatRequest, Message, TextPart
from router_core.errors import ContentFilter
from router_core.guard_settings import GuardSettings, KeywordFilterSettings
from router_core.settings import ConfigError

GROUP = discovery.FILTERS
BUILTIN = "keywords"


class FilterError(ConfigError):
    """A configured content filter cannot be used; the message says what to do."""


class ContentFilterHook(Protocol):
    """What a content filter offers (see the module docstring)."""

    def check_input(self, request: ChatRequest) -> None:
        """Raise ContentFilter to refuse the request."""
        ...

    def check_output(self, text: str) -> None:
        """Raise ContentFilter to refuse this output (a message or a stream window)."""
        ...


def message_texts(message: Message) -> list[str]:
    """The texts of one message a filter reads: content, text parts, tool-call arguments."""
    out: list[str] = []
    c = message.content
    if isinstance(c, str):
        out.append(c)
    elif c is not None:
        out.extend(p.text for p in c if isinstance(p, TextPart))
    if isinstance(message.tool_calls, list):
        out.extend(tc.function.arguments for tc in message.tool_calls)
    return out


def _compile(
    words: Sequence[str], patterns: Sequence[str], s: KeywordFilterSettings, where: str
) -> re.Pattern[str] | None:
    alts: list[str] = []
    for w in words:
        if not w:
            continue
        esc = re.escape(w)
        alts.append(f"(?<!\\w){esc}(?!\\w)" if s.whole_words else esc)
    for i, p in enumerate(patterns):
        try:
            re.compile(p)
        except re.error as exc:
            raise FilterError(
                f"guards.keywords.{where}_patterns[{i}]: invalid regex: {exc}"
            ) from exc
        alts.append(f"(?:{p})")
    if not alts:
        return None
    return re.compile("|".join(alts), re.IGNORECASE if s.ignore_case else 0)


class KeywordFilter:
    """The built-in filter: keyword and regex lists for input and for output."""

    settings_type: ClassVar[type[msgspec.Struct]] = KeywordFilterSettings

    def __init__(self, settings: KeywordFilterSettings) -> None:
        self._message = settings.message
        self._input = _compile(settings.input_keywords, settings.input_patterns, settings, "input")
        self._output = _compile(
            settings.output_keywords, settings.output_patterns, settings, "output"
        )

    def check_input(self, request: ChatRequest) -> None:
        """Refuse a request any of whose message texts matches an input rule."""
        if self._input is None:
            return
        for i, m in enumerate(request.messages):
            for text in message_texts(m):
                if self._input.search(text) is not None:
                    raise ContentFilter(
                        self._message, detail=f"keywords: input rule matched in messages[{i}]"
                    )

    def check_output(self, text: str) -> None:
        """Refuse output that matches an output rule."""
        if self._output is not None and self._output.search(text) is not None:
            raise ContentFilter(self._message, detail="keywords: output rule matched")


class OutputScanner:
    """One stream's output filtering: a bounded window per choice."""

    __slots__ = ("_filters", "_tails", "_window")

    def __init__(self, filters: Sequence[ContentFilterHook], window: int) -> None:
        self._filters = filters
        self._window = window
        self._tails: dict[int, str] = {}

    def feed(self, choice: int, delta: str) -> None:
        """Check ``delta`` of choice ``choice`` with the tail of its earlier output."""
        if not delta:
            return
        text = self._tails.get(choice, "") + delta
        for f in self._filters:
            f.check_output(text)
        self._tails[choice] = text[-self._window :] if self._window > 0 else ""


class FilterChain:
    """The configured filters, in order (empty when none are configured)."""

    __slots__ = ("_filters", "_window")

    def __init__(self, filters: Sequence[ContentFilterHook], window: int) -> None:
        self._filters = tuple(filters)
        self._window = window

    @property
    def enabled(self) -> bool:
        return bool(self._filters)

    def check_input(self, request: ChatRequest) -> None:
        """Run every filter's input check."""
        for f in self._filters:
            f.check_input(request)

    def check_completion(self, completion: ChatCompletion) -> None:
        """Run every filter's output check on each choice of a whole answer."""
        if not self._filters:
            return
        for choice in completion.choices:
            msg = choice.message
            texts = [msg.content] if msg.content else []
            if isinstance(msg.tool_calls, list):
                texts.extend(tc.function.arguments for tc in msg.tool_calls)
            for text in texts:
                for f in self._filters:
                    f.check_output(text)

    def scanner(self) -> OutputScanner | None:
        """A fresh per-stream scanner, or None when no filter is configured."""
        return OutputScanner(self._filters, self._window) if self._filters else None


NO_FILTERS = FilterChain((), 0)


def _settings_for(cls: Any, name: str, guards: GuardSettings) -> Any:
    if name == BUILTIN and cls is KeywordFilter:
        return guards.keywords
    raw = guards.filter_settings.get(name, {})
    typ = getattr(cls, "settings_type", None)
    if typ is None:
        return raw
    try:
        return msgspec.convert(raw, typ)
    except msgspec.ValidationError as exc:
        path = str(exc).replace("`$", f"`guards.filter_settings.{name}", 1)
        raise FilterError(path) from exc


def load_filters(guards: GuardSettings) -> FilterChain:
    """Build the filters ``guards.filters`` names; raises FilterError for a filter
    that is not installed or whose settings are invalid (start-up fails fast)."""
    if not guards.filters:
        return NO_FILTERS
    installed: dict[str, Any] = {BUILTIN: KeywordFilter}
    wanted = set(guards.filters) - {BUILTIN}
    loaded = discovery.load(GROUP, sorted(wanted)) if wanted else {}
    built: list[ContentFilterHook] = []
    for name in guards.filters:
        hit = loaded.get(name)
        if hit is not None and hit.error is not None:
            raise FilterError(
                f"guards.filters names {name!r} ({hit.entry.distribution} "
                f"{hit.entry.version}), which cannot be used: {hit.error}"
            )
        cls = installed.get(name) or (hit.obj if hit is not None else None)
        if cls is None:
            raise FilterError(
                f"guards.filters names {name!r}, which is not installed: install the package "
                f"that registers it in the {GROUP!r} entry point group"
            )
        built.append(cls(_settings_for(cls, name, guards)))
    return FilterChain(built, guards.output_window_chars)


__all__ = [
    "ContentFilterHook",
    "FilterChain",
    "FilterError",
    "KeywordFilter",
    "OutputScanner",
    "load_filters",
]
