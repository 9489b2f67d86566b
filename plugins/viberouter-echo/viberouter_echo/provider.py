"""The echo provider plugin: offline, deterministic, needs no key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import msgspec

from router_core.plugin_api import (
    Capabilities,
    ChatCompletion,
    ChatRequest,
    Deployment,
    EmbeddingRequest,
    EmbeddingResponse,
    LocalResponse,
    ModelCard,
    ProviderPlugin,
    RouterError,
    StreamTranslator,
    UpstreamRequest,
    decode_completion,
    error_for_status,
    json_encode,
    upstream_message,
)
from viberouter_echo import embeddings
from viberouter_echo.local_upstream import ECHO_URL, serve
from viberouter_echo.settings import EchoSettings
from viberouter_echo.translator import EchoStreamTranslator


class EchoProvider(ProviderPlugin):
    """Answers every request in-process by echoing the last user message (or calling a
    tool, or failing on request); the default provider so the router runs with no keys."""

    contract_version: ClassVar[tuple[int, int]] = (2, 5)  # embeddings, free cards
    #: Echo answers cost nothing: its cards' zero prices are complete, no lookup.
    price_provider: ClassVar[str | None] = ""
    settings_type: ClassVar[type[msgspec.Struct] | None] = EchoSettings

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings if settings is not None else EchoSettings())
        self._settings: EchoSettings = self.settings

    def models(self) -> list[ModelCard]:
        """One free card per configured model id."""
        caps = Capabilities(
            tools=True, streaming=True, vision=False, json_mode=True, embeddings=True
        )
        return [
            ModelCard(
                id=model,
                owned_by="viberouter",
                context_length=self._settings.context_length,
                max_output_tokens=self._settings.max_output_tokens,
                capabilities=caps,
            )
            for model in self._settings.models
        ]

    def build_request(
        self,
        request: ChatRequest,
        deployment: Deployment,
        *,
        extras: msgspec.Struct | None = None,
    ) -> UpstreamRequest:
        """The canonical request, addressed to the in-process upstream. Refuses nothing."""
        body = msgspec.structs.replace(
            request, model=deployment.model, models=None, transforms=None
        )
        return UpstreamRequest(
            method="POST",
            url=ECHO_URL,
            headers={"content-type": "application/json"},
            body=json_encode(body),
            framing="sse" if request.stream else "json",
        )

    def parse_response(
        self, request: ChatRequest, deployment: Deployment, body: bytes
    ) -> ChatCompletion:
        """The echo upstream already answers in the canonical shape."""
        return decode_completion(body)

    def stream_translator(self, request: ChatRequest, deployment: Deployment) -> StreamTranslator:
        """A fresh pass-through translator."""
        return EchoStreamTranslator()

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes) -> RouterError:
        """Classify by status, with the message from the OpenAI error body."""
        lowered = {k.lower(): v for k, v in headers.items()}
        return error_for_status(status, lowered, upstream_message(body))

    def serve_local(self, request: UpstreamRequest) -> LocalResponse:
        """Answer in-process, pausing ``delay_ms`` between streamed tokens."""
        if request.url == embeddings.EMBEDDINGS_URL:
            return embeddings.serve_embeddings(request, self._settings.embedding_dimensions)
        return serve(request, self._settings.delay_ms / 1000.0)

    def build_embeddings_request(
        self, request: EmbeddingRequest, deployment: Deployment
    ) -> UpstreamRequest:
        """The canonical request, addressed to the in-process upstream."""
        return embeddings.build_request(request, deployment.model)

    def parse_embeddings_response(
        self, request: EmbeddingRequest, deployment: Deployment, body: bytes
    ) -> EmbeddingResponse:
        """The in-process upstream answers in the canonical shape."""
        return embeddings.parse(body)
