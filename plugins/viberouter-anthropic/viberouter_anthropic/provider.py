"""``AnthropicProvider``: the plugin class registered as ``viberouter.providers:anthropic``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import msgspec

from router_core.plugin_api import (
    ChatCompletion,
    ChatRequest,
    Deployment,
    InvalidRequest,
    ModelCard,
    ProviderPlugin,
    RouterError,
    StreamTranslator,
    UpstreamRequest,
    UsageTap,
)

from .catalog import default_model_cards
from .errors import map_error
from .native import PATHS, AnthropicUsageTap, native_body, native_headers
from .reasoning import reasoning_hidden
from .request import build_body
from .response import decode_message, to_completion
from .settings import AnthropicExtras, AnthropicSettings
from .stream import AnthropicStreamTranslator
from .structured import answer_tool

_body_encoder = msgspec.json.Encoder()

MESSAGES_PATH = "/v1/messages"


class AnthropicProvider(ProviderPlugin):
    """Translates between the router's OpenAI shapes and Anthropic's Messages API.

    Pure: it builds requests and reads responses; the core does all I/O.
    """

    contract_version: ClassVar[tuple[int, int]] = (2, 7)  # one-hour cache writes in usage
    native_dialects: ClassVar[frozenset[str]] = frozenset({"anthropic_messages"})
    settings_type: ClassVar[type[msgspec.Struct] | None] = AnthropicSettings
    extra_params: ClassVar[type[msgspec.Struct] | None] = AnthropicExtras

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings if settings is not None else AnthropicSettings())
        self._settings: AnthropicSettings = self.settings
        self._base_url = self._settings.base_url.rstrip("/")
        self._url = self._base_url + MESSAGES_PATH
        self._own_headers = self._make_headers(self._settings)
        self._headers = {**self._own_headers, **self._settings.headers}

    @staticmethod
    def _make_headers(settings: AnthropicSettings) -> dict[str, str]:
        """The headers this provider sends before the operator's ``headers`` overrides."""
        headers = {
            "content-type": "application/json",
            "anthropic-version": settings.anthropic_version,
        }
        if settings.api_key is not None:
            headers["x-api-key"] = settings.api_key
        if settings.beta:
            headers["anthropic-beta"] = ",".join(settings.beta)
        return headers

    def models(self) -> list[ModelCard]:
        """Cards for well-known Claude models (figures from public price lists)."""
        return default_model_cards()

    def build_request(
        self,
        request: ChatRequest,
        deployment: Deployment,
        *,
        extras: msgspec.Struct | None = None,
    ) -> UpstreamRequest:
        """``POST {base_url}/v1/messages``; SSE framing when streaming, else JSON.

        Raises ``InvalidRequest`` naming the field for anything Anthropic cannot honour.
        """
        body = build_body(
            request, deployment, extras if isinstance(extras, AnthropicExtras) else None
        )
        return UpstreamRequest(
            method="POST",
            url=self._url,
            headers=dict(self._headers),
            body=_body_encoder.encode(body),
            framing="sse" if request.stream else "json",
        )

    def parse_response(
        self, request: ChatRequest, deployment: Deployment, body: bytes
    ) -> ChatCompletion:
        """A 2xx Messages API body as a ``chat.completion`` (model = the upstream's)."""
        return to_completion(
            decode_message(body),
            fallback_model=deployment.model,
            answer_tool=answer_tool(request, deployment.card),
            hide_reasoning=reasoning_hidden(request),
        )

    def stream_translator(self, request: ChatRequest, deployment: Deployment) -> StreamTranslator:
        """A fresh §3.4 state machine; chunks name the model as Anthropic reports it in
        ``message_start`` (the contract's model rule), else ``deployment.model``."""
        return AnthropicStreamTranslator(
            deployment.model,
            include_usage=request.include_usage,
            answer_tool=answer_tool(request, deployment.card),
            hide_reasoning=reasoning_hidden(request),
        )

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
        """The client's Messages API body for ``deployment`` (see ``native.py``):
        ``POST {base_url}/v1/messages`` or ``/v1/messages/count_tokens``."""
        if dialect not in self.native_dialects or endpoint not in PATHS:
            raise InvalidRequest(f"The Anthropic provider does not speak {dialect}/{endpoint}")
        return UpstreamRequest(
            method="POST",
            url=self._base_url + PATHS[endpoint],
            headers=native_headers(self._own_headers, headers, self._settings.headers),
            body=native_body(body, deployment.model),
            framing="sse" if stream else "json",
        )

    def usage_tap(self, dialect: str, deployment: Deployment) -> UsageTap:
        """A fresh reader of usage and stop reason for one relayed answer."""
        return AnthropicUsageTap()

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes) -> RouterError:
        """Anthropic's error envelope and status -> RouterError (see ``errors.py``)."""
        return map_error(status, headers, body)


__all__ = ["MESSAGES_PATH", "AnthropicProvider"]
