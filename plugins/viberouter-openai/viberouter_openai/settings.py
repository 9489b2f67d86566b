"""The OpenAI provider's ``settings`` table and the request extras it honours."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec


class OpenAISettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Where and how to call an OpenAI-compatible ``/chat/completions`` endpoint.

    ``api_key`` arrives already resolved from ``env:NAME`` by the core; ``headers`` are
    added to every request (after the built-in ones, so they can override them);
    ``models`` limits the advertised cards to these ids (ids the built-in catalogue
    does not know get a generic card), which suits vLLM, llama.cpp or Ollama servers.
    ``responses_api`` says how ``/v1/responses`` requests reach this provider:
    ``"native"`` passes them through to ``{base_url}/responses`` unchanged,
    ``"translate"`` converts them to chat completions, ``"auto"`` (the default) is
    native for ``https://api.openai.com`` and translates for every other server (many
    OpenAI-compatible servers have no Responses API). ``forward_extensions`` sends the
    router's OpenRouter-style extensions (``cache_control``, the ``reasoning`` object,
    reasoning sent back on assistant turns) upstream unchanged, for an OpenRouter or
    LiteLLM upstream; by default they are removed (``extensions.py``).
    """

    base_url: Annotated[str, msgspec.Meta(min_length=1)] = "https://api.openai.com/v1"
    api_key: str | None = None
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    organization: str | None = None
    project: str | None = None
    models: list[str] | None = None
    owned_by: str = "openai"
    responses_api: Literal["auto", "native", "translate"] = "auto"
    forward_extensions: bool = False


class OpenAIExtras(msgspec.Struct, omit_defaults=True, kw_only=True):
    """Sampling fields many OpenAI-compatible servers (vLLM, llama.cpp, OpenRouter)
    accept beyond the OpenAI API; forwarded only when the client set them."""

    top_k: Annotated[int, msgspec.Meta(ge=-1)] | None = None
    min_p: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    repetition_penalty: Annotated[float, msgspec.Meta(gt=0)] | None = None
