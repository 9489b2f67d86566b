"""The ``gemini`` provider plugin: wires the translator modules to the contract."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar
from urllib.parse import quote

import msgspec

from router_core.plugin_api import (
    ChatCompletion,
    ChatRequest,
    Deployment,
    EmbeddingRequest,
    EmbeddingResponse,
    InvalidRequest,
    ModelCard,
    ProviderPlugin,
    RouterError,
    StreamTranslator,
    UpstreamRequest,
    new_tool_call_id,
    now,
)

from . import embeddings, errors
from .catalog import default_cards
from .contents import build_contents
from .options import generation_config, refuse_unsupported, tools_and_config
from .response import parse_completion
from .settings import GeminiExtras, GeminiSettings
from .stream import GeminiStreamTranslator
from .wire import REQUEST_ENCODER, GenerateContentRequest


class GeminiProvider(ProviderPlugin):
    """Google Gemini ``generateContent`` / ``streamGenerateContent`` (a pure translator).

    ``new_id`` and ``clock`` are injectable so tests get deterministic tool-call ids
    and ``created`` stamps; the core constructs the plugin with settings only.
    """

    contract_version: ClassVar[tuple[int, int]] = (2, 5)  # reasoning fields, images inlined
    #: Gemini's prices are Google's in the maintained price list.
    price_provider: ClassVar[str | None] = "google"
    #: generateContent takes images inline only (fileData needs Google's file store).
    needs_inline_images: ClassVar[bool] = True
    settings_type: ClassVar[type[msgspec.Struct] | None] = GeminiSettings
    extra_params: ClassVar[type[msgspec.Struct] | None] = GeminiExtras

    def __init__(
        self,
        settings: Any = None,
        *,
        new_id: Callable[[], str] = new_tool_call_id,
        clock: Callable[[], int] = now,
    ) -> None:
        super().__init__(settings if settings is not None else GeminiSettings())
        self._settings: GeminiSettings = self.settings
        self._new_id = new_id
        self._clock = clock

    def models(self) -> list[ModelCard]:
        """Cards for the well-known Gemini models (figures from public price lists)."""
        return default_cards()

    def build_request(
        self,
        request: ChatRequest,
        deployment: Deployment,
        *,
        extras: msgspec.Struct | None = None,
    ) -> UpstreamRequest:
        """``POST {base}/models/{model}:generateContent`` (or the SSE stream variant)."""
        if extras is not None and not isinstance(extras, GeminiExtras):
            raise InvalidRequest("extras: not this provider's parameters")
        refuse_unsupported(request)
        system, contents = build_contents(request.messages)
        body = GenerateContentRequest(contents=contents)
        if system is not None:
            body.system_instruction = system
        tools, tool_config = tools_and_config(request)
        if tools is not None and tool_config is not None:
            body.tools, body.tool_config = tools, tool_config
        config = generation_config(request, extras, deployment.model)
        if config is not None:
            body.generation_config = config
        base = self._settings.base_url.rstrip("/")
        model = quote(deployment.model, safe="-._")
        if request.stream:
            url, framing = f"{base}/models/{model}:streamGenerateContent?alt=sse", "sse"
        else:
            url, framing = f"{base}/models/{model}:generateContent", "json"
        headers = {**self._settings.headers, "content-type": "application/json"}
        if self._settings.api_key:
            headers["x-goog-api-key"] = self._settings.api_key
        return UpstreamRequest(
            method="POST",
            url=url,
            headers=headers,
            body=REQUEST_ENCODER.encode(body),
            framing="sse" if framing == "sse" else "json",
        )

    def parse_response(
        self, request: ChatRequest, deployment: Deployment, body: bytes
    ) -> ChatCompletion:
        """Translate a 2xx ``generateContent`` body."""
        return parse_completion(
            body,
            deployment.model,
            blocked_prompt=self._settings.blocked_prompt,
            new_id=self._new_id,
            created=self._clock(),
        )

    def stream_translator(self, request: ChatRequest, deployment: Deployment) -> StreamTranslator:
        """A fresh translator for one ``streamGenerateContent?alt=sse`` response."""
        return GeminiStreamTranslator(
            deployment.model,
            blocked_prompt=self._settings.blocked_prompt,
            new_id=self._new_id,
            created=self._clock(),
        )

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes) -> RouterError:
        """Read the Google RPC error envelope (see ``viberouter_gemini.errors``)."""
        return errors.map_error(status, headers, body)

    def build_embeddings_request(
        self, request: EmbeddingRequest, deployment: Deployment
    ) -> UpstreamRequest:
        """``embedContent`` / ``batchEmbedContents`` (see ``viberouter_gemini.embeddings``)."""
        return embeddings.build_embeddings_request(self._settings, request, deployment)

    def parse_embeddings_response(
        self, request: EmbeddingRequest, deployment: Deployment, body: bytes
    ) -> EmbeddingResponse:
        """The vectors in request order."""
        return embeddings.parse_embeddings_response(request, body, deployment.model)
