"""Dispatch: run a request against its targets with retries, fallbacks, circuits
and timeouts; the core does all I/O, plugins only build requests and translate.

The pieces, one job each:

* attempts.py: the attempt loop (order, circuits, retries, budget) and the one
  place a failure is recorded and scrubbed of credentials;
* exchange.py: one attempt's exchange (JSON, or a stream up to its commit);
* stream_iter.py: upstream bytes -> events -> canonical chunks;
* timeouts.py: which deadline bounds which wait.

A request may be retried or moved to the next deployment only while nothing has
reached the client: for streams, until the stream is committed (first chunks
translated, or the keep-alive delay passed). After that a failure is one error
event and the end of the stream (streaming.py), never a silent restart.

Seams for what is not built yet: an exchange is any ``Exchange`` function, so a
native pass-through (the client's body sent with only ``model`` changed, upstream
bytes relayed, a usage tap) or an embeddings call is one more exchange plus one
more ``Build``, run by the same :class:`AttemptLoop`.
"""

from __future__ import annotations

import functools
import random
import re
import time
from collections.abc import Callable, Sequence

import msgspec
import structlog

from router_core.api.chat import ChatCompletion, ChatRequest
from router_core.api.decoding import check_nesting, decode_json, may_nest_deeper, struct_parts
from router_core.attempts import (
    CIRCUIT_OPEN,
    HEALTH_ERRORS,
    Attempt,
    AttemptLoop,
    CallLog,
    Exchange,
    Health,
    R,
)
from router_core.balancer import Balancer
from router_core.catalog import Target
from router_core.circuit import Breakers, CircuitState
from router_core.exchange import OpenStream, json_exchange, stream_exchange
from router_core.metrics import Metrics
from router_core.plugin_api import UpstreamRequest
from router_core.settings import RoutingSettings, UpstreamSettings
from router_core.upstream import UpstreamClient

log = structlog.get_logger("viberouter.dispatch")


_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]+")


class _ExtrasReader:
    """A plugin's extra request fields (``ProviderPlugin.extra_params``) from the raw
    body. The body was decoded once already, into the canonical request; a second full
    decode for fields most requests do not send would parse a long prompt twice. So
    when none of the fields' names occurs in the body as a JSON string (and no
    ``\\u`` escape could spell one differently), the answer is what ``{}`` decodes to."""

    __slots__ = ("_decoder", "_names", "_skippable")

    def __init__(self, typ: type[msgspec.Struct]) -> None:
        self._decoder = msgspec.json.Decoder(typ)
        names = typ.__struct_encode_fields__
        self._names = tuple(b'"' + n.encode() + b'"' for n in names)
        try:
            self._decoder.decode(b"{}")
            # a name JSON may spell with another escape than \u (``\/``) or must
            # escape is not found by its plain bytes: every body is decoded then
            self._skippable = all(_PLAIN_NAME.fullmatch(n) for n in names)
        except msgspec.ValidationError:
            self._skippable = False  # a required field: every body is decoded

    def read(self, raw_body: bytes) -> msgspec.Struct:
        """The extras, or 400 invalid_request for a bad value (api/decoding.py)."""
        if self._skippable and b"\\u" not in raw_body:
            for name in self._names:
                if name in raw_body:
                    break
            else:
                return self._decoder.decode(b"{}")
        extras = decode_json(self._decoder, raw_body)
        if may_nest_deeper(raw_body):
            check_nesting(struct_parts(extras))
        return extras


class Dispatcher:
    """Runs a request against a route's targets with retries and fallbacks."""

    def __init__(
        self,
        upstream: UpstreamClient,
        settings: UpstreamSettings,
        metrics: Metrics,
        *,
        routing: RoutingSettings | None = None,
        rng: random.Random | None = None,
    ):
        self._upstream = upstream
        self._settings = settings
        self.metrics = metrics
        self.routing = routing or RoutingSettings()
        self._rng = rng or random.Random()
        self.balancer = Balancer(self.routing.latency_ewma_alpha, self._rng)
        self.breakers = Breakers(self.routing.circuit, self._circuit_changed)
        self.health = Health(metrics, self.balancer, self.breakers)
        self._extras_decoders: dict[type[msgspec.Struct], _ExtrasReader] = {}

    def _circuit_changed(self, deployment_id: str, state: CircuitState) -> None:
        provider = deployment_id.partition("/")[0]
        self.metrics.circuit_state_c.get(provider, deployment_id).set(int(state))
        log.warning("circuit_state", deployment=deployment_id, state=state.name.lower())

    def _extras(self, target: Target, raw_body: bytes) -> msgspec.Struct | None:
        typ = target.plugin.extra_params
        if typ is None:
            return None
        reader = self._extras_decoders.get(typ)
        if reader is None:
            reader = self._extras_decoders[typ] = _ExtrasReader(typ)
        return reader.read(raw_body)

    def builder(self, request: ChatRequest, raw_body: bytes) -> Callable[[Target], UpstreamRequest]:
        """The translated upstream request per target (the plugin's extras decoded)."""

        def build(target: Target) -> UpstreamRequest:
            extras = self._extras(target, raw_body)
            return target.plugin.build_request(request, target.deployment, extras=extras)

        return build

    async def run(
        self,
        targets: Sequence[Target],
        model: str,
        calls: CallLog,
        build: Callable[[Target], UpstreamRequest],
        exchange: Exchange[R],
    ) -> tuple[Target, R]:
        """The attempt loop with any exchange (the seam for new kinds of call)."""
        loop: AttemptLoop[R] = AttemptLoop(
            self.health,
            self._settings,
            self.routing,
            self._rng,
            model=model,
            calls=calls,
            deadline=time.monotonic() + self._settings.total_timeout_s,
        )
        return await loop.run(targets, build, exchange)

    async def complete(
        self, targets: Sequence[Target], request: ChatRequest, raw_body: bytes, log: CallLog
    ) -> tuple[Target, ChatCompletion]:
        """A non-streaming completion from the first target that answers."""
        exchange: Exchange[ChatCompletion] = functools.partial(
            json_exchange, self._upstream, request=request
        )
        build = self.builder(request, raw_body)
        return await self.run(targets, request.model, log, build, exchange)

    async def open_stream(
        self,
        targets: Sequence[Target],
        request: ChatRequest,
        raw_body: bytes,
        log: CallLog,
        commit_delay: float,
    ) -> OpenStream:
        """An accepted upstream stream from the first target that answers."""
        exchange: Exchange[OpenStream] = functools.partial(
            stream_exchange,
            self._upstream,
            request=request,
            commit_delay=commit_delay,
            max_event_bytes=self._settings.max_event_bytes,
        )
        build = self.builder(request, raw_body)
        _, opened = await self.run(targets, request.model, log, build, exchange)
        return opened


__all__ = [
    "CIRCUIT_OPEN",
    "HEALTH_ERRORS",
    "Attempt",
    "CallLog",
    "Dispatcher",
    "OpenStream",
]
