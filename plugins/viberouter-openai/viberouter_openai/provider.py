"""The OpenAI provider plugin: OpenAI and any OpenAI-compatible server."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

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
)
from viberouter_openai.catalog import default_cards
from viberouter_openai.embeddings import build_embeddings_request, parse_embeddings_response
from viberouter_openai.errors import error_for, fault_from_body
from viberouter_openai.model_list import parse_model_list
from viberouter_openai.request import build_upstream_request, chat_endpoints, request_headers
from viberouter_openai.response import parse_completion
from viberouter_openai.responses_native import (
    RESPONSES,
    ResponsesUsageTap,
    native_body,
    native_enabled,
)
from viberouter_openai.settings import OpenAIExtras, OpenAISettings
from viberouter_openai.translator import OpenAIStreamTranslator


class OpenAIProvider(ProviderPlugin):
    """Speaks ``POST {base_url}/chat/completions``; forwards every OpenAI field, so it
    refuses nothing itself and lets the upstream's 400 explain what it cannot do."""

    contract_version: ClassVar[tuple[int, int]] = (2, 8)  # discovery, as sent, token templates
    #: Client dialects this provider can serve natively; ``responses_api`` decides per
    #: provider whether it does (``build_native_request`` refuses otherwise).
    native_dialects: ClassVar[frozenset[str]] = frozenset({RESPONSES})
    settings_type: ClassVar[type[msgspec.Struct] | None] = OpenAISettings
    extra_params: ClassVar[type[msgspec.Struct] | None] = OpenAIExtras

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings if settings is not None else OpenAISettings())
        self._settings: OpenAISettings = self.settings
        self._native_responses = native_enabled(self._settings)
        self._endpoints = chat_endpoints(self._settings)  # built once, not per request
        # What an event passed on with fields the router does not know must not repeat.
        sent = (self._settings.api_key or "", *self._settings.headers.values())
        self._secrets = tuple(value for value in sent if len(value) >= 4)

    def models(self) -> list[ModelCard]:
        """The built-in OpenAI cards, or the configured ``models`` list."""
        return default_cards(self._settings.owned_by, self._settings.models)

    def build_request(
        self,
        request: ChatRequest,
        deployment: Deployment,
        *,
        extras: msgspec.Struct | None = None,
    ) -> UpstreamRequest:
        """The OpenAI request (see ``request.request_body`` for what changes)."""
        return build_upstream_request(self._settings, request, deployment, extras, self._endpoints)

    def parse_response(
        self, request: ChatRequest, deployment: Deployment, body: bytes
    ) -> ChatCompletion:
        """Tolerant decode of a 2xx body."""
        return parse_completion(body, deployment.model)

    def build_models_request(self) -> UpstreamRequest:
        """``GET {base_url}/models`` (OpenAI, vLLM, llama.cpp, Ollama's /v1 ...)."""
        return UpstreamRequest(
            method="GET",
            url=self._settings.base_url.rstrip("/") + "/models",
            headers=request_headers(self._settings, stream=False),
            body=b"",
            framing="json",
        )

    def parse_models_response(self, body: bytes) -> list[str]:
        """The ``data[].id`` of an OpenAI model list."""
        return parse_model_list(body)

    def stream_translator(self, request: ChatRequest, deployment: Deployment) -> StreamTranslator:
        """A fresh normaliser for one stream."""
        return OpenAIStreamTranslator(
            deployment.model, keep_unknown=self._settings.forward_extensions
        )

    def as_sent_translator(
        self, request: ChatRequest, deployment: Deployment
    ) -> OpenAIStreamTranslator:
        """The same normaliser, which says which events it passed through unchanged:
        with ``forward_extensions`` those may carry fields the router does not know."""
        settings = self._settings
        return OpenAIStreamTranslator(
            deployment.model,
            keep_unknown=settings.forward_extensions,
            null_usage=True,
            secrets=self._secrets,
            templates=True,
        )

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes) -> RouterError:
        """Classify by status plus the error envelope's ``code`` / ``type``."""
        return error_for(status, fault_from_body(body), headers)

    def build_embeddings_request(
        self, request: EmbeddingRequest, deployment: Deployment
    ) -> UpstreamRequest:
        """``POST {base_url}/embeddings``, passed through."""
        return build_embeddings_request(self._settings, request, deployment)

    def parse_embeddings_response(
        self, request: EmbeddingRequest, deployment: Deployment, body: bytes
    ) -> EmbeddingResponse:
        """The upstream's list as it is (floats or base64)."""
        return parse_embeddings_response(body, deployment.model)

    def build_native_request(
        self,
        dialect: str,
        endpoint: str,
        body: bytes,
        headers: Mapping[str, str],
        deployment: Deployment,
        *,
        stream: bool,
    ) -> UpstreamRequest:
        """The client's Responses body for ``deployment``: ``POST {base_url}/responses``;
        ``InvalidRequest`` (translate instead) where ``responses_api`` says so."""
        if dialect != RESPONSES or endpoint != "responses" or not self._native_responses:
            raise InvalidRequest(f"This OpenAI provider does not serve {dialect} natively")
        return UpstreamRequest(
            method="POST",
            url=self._settings.base_url.rstrip("/") + "/responses",
            headers=request_headers(self._settings, stream=stream),
            body=native_body(body, deployment.model),
            framing="sse" if stream else "json",
        )

    def usage_tap(self, dialect: str, deployment: Deployment) -> ResponsesUsageTap:
        """A fresh reader of usage and the final response for one relayed answer."""
        return ResponsesUsageTap()
