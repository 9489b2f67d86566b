"""Test-control directives embedded in the last user message: ``[[echo:...]]``.

* ``[[echo:status=NNN]]``     the fake upstream answers HTTP NNN with an OpenAI error body;
* ``[[echo:error-midstream]]`` a few content tokens, then an in-band error event;
* ``[[echo:hang]]``            the fake upstream never answers.

Directives are removed from the text the echo replies with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DIRECTIVE = re.compile(r"\[\[echo:([a-z-]+)(?:=([^\]]*))?\]\]")


@dataclass(frozen=True, slots=True)
class Directives:
    """What the test asked the fake upstream to do instead of answering normally."""

    status: int | None = None
    error_midstream: bool = False
    hang: bool = False


def parse_directives(text: str) -> tuple[Directives, str]:
    """Split ``text`` into its directives and the text with the directives removed.
    Unknown directives are removed and ignored; a malformed status is ignored."""
    if "[[echo:" not in text:
        return Directives(), text
    status: int | None = None
    error_midstream = False
    hang = False
    for match in _DIRECTIVE.finditer(text):
        name, value = match.group(1), match.group(2)
        if name == "status" and value is not None and value.isdigit():
            code = int(value)
            status = code if 100 <= code <= 599 else None
        elif name == "error-midstream":
            error_midstream = True
        elif name == "hang":
            hang = True
    cleaned = _DIRECTIVE.sub("", text).strip()
    return Directives(status=status, error_midstream=error_midstream, hang=hang), cleaned
