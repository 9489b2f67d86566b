"""A tiny SSE splitter for tests: whole fixture bytes -> ``UpstreamEvent`` list.

Blank-line separated events; ``event:`` / ``data:`` fields split on the first colon
with one leading space dropped; several ``data:`` lines joined with ``\\n``;
comment lines and events without data ignored. The core has the real, incremental
reader; this one only turns fixture files into what the core would feed us.
"""

from __future__ import annotations

from router_core.plugin_api import UpstreamEvent


def split_sse(raw: bytes) -> list[UpstreamEvent]:
    """Every event of a complete SSE body, in order."""
    text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    events: list[UpstreamEvent] = []
    name = ""
    data: list[str] = []
    for line in [*text.split("\n"), ""]:
        if not line:
            if data:
                events.append(UpstreamEvent(data="\n".join(data), event=name))
            name, data = "", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
    return events
