"""``POST /v1/embeddings`` wire types: the canonical embeddings request and response
(OpenAI's shapes; plugins translate to and from them)."""

from __future__ import annotations

import base64
import struct
from typing import Annotated, Literal, TypeVar

from msgspec import Meta, Struct, field

_Items = TypeVar("_Items", list[str], list[list[int]])

#: OpenAI's limits: items per request, and the request must not be empty.
MAX_INPUTS = 2048


class EmbeddingRequest(Struct, kw_only=True, omit_defaults=True):
    """The request body. ``input`` is a string, a list of strings, one list of token
    ids, or a list of token-id lists; :meth:`inputs` gives the normalised list."""

    model: Annotated[str, Meta(min_length=1, max_length=256)]
    input: str | list[str | int | list[int]]
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: Annotated[int, Meta(ge=1)] | None = None
    user: str | None = None
    # VibeRouter extension (as on chat): ordered fallback models.
    models: list[str] | None = None

    def inputs(self) -> list[str] | list[list[int]]:
        """Every input as a list of texts or a list of token arrays; raises ValueError
        naming the problem (mixed kinds, empty strings or arrays, too many items)."""
        raw = self.input
        if isinstance(raw, str):
            texts: list[str] = [raw]
            return _checked_texts(texts)
        if not raw:
            raise ValueError("'input' is empty")
        if all(isinstance(x, str) for x in raw):
            return _checked_texts([x for x in raw if isinstance(x, str)])
        if all(isinstance(x, int) for x in raw):
            return [[x for x in raw if isinstance(x, int)]]
        if all(isinstance(x, list) for x in raw):
            arrays = [x for x in raw if isinstance(x, list)]
            if any(not a for a in arrays):
                raise ValueError("'input' has an empty token array")
            return _limited(arrays)
        raise ValueError("'input' mixes strings, token ids and token arrays")


def _checked_texts(texts: list[str]) -> list[str]:
    if any(not t for t in texts):
        raise ValueError("'input' has an empty string; every input must be non-empty")
    return _limited(texts)


def _limited(items: _Items) -> _Items:
    if len(items) > MAX_INPUTS:
        raise ValueError(f"'input' has {len(items)} items; at most {MAX_INPUTS} are allowed")
    return items


class Embedding(Struct, kw_only=True):
    """One vector: floats, or (``encoding_format: "base64"``) the base64 of its
    little-endian float32 bytes."""

    object_: Literal["embedding"] = field(name="object", default="embedding")
    index: int
    embedding: list[float] | str


class EmbeddingUsage(Struct, kw_only=True):
    prompt_tokens: int = 0
    total_tokens: int = 0


class EmbeddingResponse(Struct, kw_only=True):
    """The response body: one :class:`Embedding` per input, in input order."""

    object_: Literal["list"] = field(name="object", default="list")
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage = field(default_factory=EmbeddingUsage)


def to_base64(vector: list[float]) -> str:
    """OpenAI's base64 form: the vector as little-endian float32, base64-encoded."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def from_base64(data: str) -> list[float]:
    """The floats of a base64 float32 vector."""
    raw = base64.b64decode(data)
    return list(struct.unpack(f"<{len(raw) // 4}f", raw[: len(raw) - len(raw) % 4]))


__all__ = [
    "MAX_INPUTS",
    "Embedding",
    "EmbeddingRequest",
    "EmbeddingResponse",
    "EmbeddingUsage",
    "from_base64",
    "to_base64",
]
