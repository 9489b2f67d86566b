"""The Reverse API provider plugin: the class the entry point names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import msgspec
from router_core.plugin_api import (
    Capabilities,
    ChatCompletion,
    ChatRequest,
    Deployment,
    ModelCard,
    Pricing,
    ProviderPlugin,
    RouterError,
    StreamTranslator,
    UpstreamRequest,
)

from viberouter_reverse.errors import error_for
from viberouter_reverse.request import build_upstream_request
from viberouter_reverse.response import parse_answer
from viberouter_reverse.settings import ReverseExtras, ReverseSettings
from viberouter_reverse.stream import ReverseStreamTranslator


class ReverseProvider(ProviderPlugin):
    """Answers with the last user message's words in reverse order (or its letters,
    with the ``reverse_mode`` extra). Text only: no tools, one choice."""

    #: The plugin contract this plugin was written against (checked at start-up).
    contract_version: ClassVar[tuple[int, int]] = (2, 0)
    settings_type: ClassVar[type[msgspec.Struct] | None] = ReverseSettings
    extra_params: ClassVar[type[msgspec.Struct] | None] = ReverseExtras

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings if settings is not None else ReverseSettings())
        self._settings: ReverseSettings = self.settings

    def models(self) -> list[ModelCard]:
        """One card per configured model id."""
        return [
            ModelCard(
                id=model,
                owned_by="reverse",
                context_length=self._settings.context_length,
                max_output_tokens=self._settings.context_length,
                pricing=Pricing(prompt_per_mtok=0.5, completion_per_mtok=1.0),
                capabilities=Capabilities(tools=False, streaming=True),
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
        """``POST {base_url}/v1/reverse``; refuses tools and ``n > 1``."""
        return build_upstream_request(self._settings, request, deployment, extras)

    def parse_response(
        self, request: ChatRequest, deployment: Deployment, body: bytes
    ) -> ChatCompletion:
        """Translate a non-streamed answer."""
        return parse_answer(body)

    def stream_translator(self, request: ChatRequest, deployment: Deployment) -> StreamTranslator:
        """A fresh translator for one NDJSON stream."""
        return ReverseStreamTranslator(deployment.model)

    def map_error(self, status: int, headers: Mapping[str, str], body: bytes) -> RouterError:
        """Classify by the error body's ``code``, then by status."""
        return error_for(status, headers, body)
