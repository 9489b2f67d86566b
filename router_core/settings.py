"""The config file as typed msgspec Structs.

``load_settings(path, environ)`` reads a TOML file, drops providers whose
``when_env`` variable is unset (and the route targets that name them), resolves
``env:NAME`` references from the given environment (never ``os.environ`` itself),
and validates everything; errors name the field path.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, get_type_hints

import msgspec
from msgspec import Struct, field

from router_core.api.models import Capabilities, Pricing
from router_core.cors_settings import CorsSettings
from router_core.dashboard.settings import DashboardSettings
from router_core.guard_settings import GuardSettings
from router_core.responses_settings import ResponsesSettings

DEFAULT_CONFIG_PATH = "config/viberouter.toml"


class ConfigError(Exception):
    """A config file that cannot be used; the message names the file and field path, one
    line per problem."""


class ServerSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    """The HTTP listener: address and limits on client requests."""

    #: Address to listen on (0.0.0.0 for every interface).
    host: str = "127.0.0.1"
    #: TCP port to listen on.
    port: int = 8080
    #: Largest accepted request body; larger bodies get 413 invalid_request.
    max_body_bytes: int = 4 * 1024 * 1024
    #: Seconds of upstream silence before an SSE keep-alive comment is sent (0 = off).
    sse_keepalive_s: float = 15.0
    #: Seconds a client may take to send its request headers and body.
    client_read_timeout_s: float = 30.0
    #: Seconds a client may leave an answer unread (no byte of the pending output
    #: taken) before the connection is dropped; JSON answers and streams (0 = off).
    client_write_timeout_s: float = 30.0
    #: Seconds requests in flight get to finish after SIGTERM; then streams get an
    #: error event and unanswered JSON requests a 503 (see docs/operations.md).
    shutdown_timeout_s: float = 10.0
    #: Most open client connections per process (0 = unlimited).
    max_connections: int = 10000
    #: Use uvloop when installed.
    uvloop: bool = True
    #: Error bodies of the OpenAI-compatible endpoints: "viberouter" (the API reference's
    #: {"error": "<code>", "message": ...}) or "openai" (OpenAI's nested {"error":
    #: {"message", "type", "param", "code"}}, which the OpenAI SDKs, the AI SDK and
    #: LiteLLM parse); same codes and statuses either way. Keys may choose their own.
    error_format: Literal["viberouter", "openai"] = "viberouter"
    #: File that holds the serving process's id, for `viberouter reload` (empty: none;
    #: a relative path is taken from the config file's folder).
    pid_file: str = ""


class UpstreamSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    """Calls to providers: timeouts, connection pool, retries."""

    #: Seconds to open a TCP (and TLS) connection to an upstream.
    connect_timeout_s: float = 10.0
    #: Until the upstream's status and headers arrive.
    first_byte_timeout_s: float = 60.0
    #: Longest silence between two reads of a streamed body.
    idle_timeout_s: float = 120.0
    #: Whole request, first byte to last: the budget of all its attempts together.
    total_timeout_s: float = 600.0
    #: Pooled connections in total and per upstream host (0 = unlimited per host).
    pool_size: int = 2048
    #: Pooled connections per upstream host (0 = unlimited).
    pool_per_host: int = 0
    #: Largest single upstream event (SSE event / NDJSON line) or JSON body accepted.
    max_event_bytes: int = 8 * 1024 * 1024
    #: Extra attempts on the same deployment for retryable failures before falling back.
    retries: int = 1
    #: First backoff before a retry; doubles on each retry, with jitter (x0.5 to x1.5).
    retry_backoff_s: float = 0.2


class StateSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    """Where accounts, keys, usage and limit counters live."""

    #: "embedded" (SQLite and in-process limits, one process) or "redis" (shared by
    #: every process; required by `serve --workers`).
    backend: Literal["embedded", "redis"] = "embedded"
    #: SQLite file for accounts, keys and usage (backend "embedded"); a relative path is
    #: taken from the config file's folder, not the working directory.
    sqlite_path: str = "viberouter.db"
    #: Redis URL for accounts, keys, usage and limit counters (backend "redis").
    redis_url: str = "redis://127.0.0.1:6379/0"
    #: `redis_url` names one node of a Redis Cluster (the others are discovered).
    redis_cluster: bool = False
    #: Seconds of Redis time a call on the request path may take (admission, settlement,
    #: key lookups) before it counts as a backend failure.
    redis_timeout_s: float = 0.05
    #: Redis calls at once per process (per node in a cluster); more wait for a connection.
    redis_pool_size: int = 128
    #: Longest wait for a free Redis connection before it counts as a backend failure.
    redis_pool_timeout_s: float = 2.0


class AuthSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    """API key authentication and the admin API."""

    #: Seconds a key lookup is cached in process (changes made elsewhere show up within it).
    cache_ttl_s: float = 5.0
    #: While the store is unreachable, a cached key keeps working (and a cached unknown
    #: key keeps failing) this many seconds past `cache_ttl_s`.
    cache_stale_s: float = 600.0
    #: Token for /admin/v1; None turns the admin API off (404).
    admin_token: str | None = None
    #: Create a demo account and key on an empty store at start-up and print the key once.
    bootstrap_demo_key: bool = True


class LimitsSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    """How rate limits and quotas are enforced."""

    #: When the limits backend fails: refuse the request ("fail_closed") or let it
    #: through unlimited ("fail_open").
    on_backend_error: Literal["fail_open", "fail_closed"] = "fail_closed"
    #: Seconds a concurrency slot outlives its holder: a live request re-arms its lease,
    #: so the slots of a crashed process come back within this time.
    lease_ttl_s: float = 20.0


class LoggingSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    """Log format and level."""

    #: "console", "json", or "auto" (console on a terminal, JSON otherwise).
    format: Literal["auto", "console", "json"] = "auto"
    #: Lowest level logged.
    level: Literal["debug", "info", "warning", "error"] = "info"
    #: One log line per request.
    access_log: bool = True


class MetricsSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    """Prometheus metrics."""

    #: Serve Prometheus metrics.
    enabled: bool = True
    #: "host:port" for a separate metrics listener; None serves /metrics on the main port.
    listen: str | None = None
    #: Per-tenant series (viberouter_tenant_*): "off", "account" or "key" (store ids, never
    #: secrets). See docs/metrics.md.
    tenant_labels: Literal["off", "account", "key"] = "off"
    #: Most tenants with series of their own per process; the rest are counted as "_other".
    tenant_cap: int = 100


class DeploymentTimeouts(Struct, forbid_unknown_fields=True, kw_only=True):
    """Per-deployment timeouts; an unset field falls back to the next level
    (route target, then model, then provider, then ``[upstream]``). Each expiry is
    the ``timeout`` error, retried or failed over while nothing reached the client."""

    #: Seconds from sending the request until the first token: the status line for
    #: JSON answers, the first translated chunk for streams.
    first_token_s: float | None = None
    #: Longest silence between two chunks of a streamed answer (or body reads).
    idle_s: float | None = None
    #: One attempt on this deployment, send to last byte (streams included).
    total_s: float | None = None
    #: Seconds to open a TCP (and TLS) connection to the upstream.
    connect_s: float | None = None


class ModelOverride(Struct, forbid_unknown_fields=True, kw_only=True):
    """Overrides (or adds) one model card of a provider."""

    #: Timeouts for this deployment ("<provider>/<model>") wherever it is used.
    timeouts: DeploymentTimeouts | None = None
    #: The id the upstream expects, when it differs from the published name.
    upstream_id: str | None = None
    #: Context window in tokens.
    context_length: int | None = None
    #: Most tokens the model generates in one answer.
    max_output_tokens: int | None = None
    #: Prices in US dollars per million tokens; replace every other source's whole
    #: pricing for this deployment (docs/pricing.md). An unset cache rate bills cache
    #: tokens at the prompt rate.
    pricing: Pricing | None = None
    #: What the model supports.
    capabilities: Capabilities | None = None
    #: "owned_by" in /v1/models.
    owned_by: str | None = None
    #: "created" (Unix time) in /v1/models.
    created: int | None = None


class ProviderSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    #: Entry point name of the provider plugin (group viberouter.providers), e.g. "openai".
    plugin: str
    #: Enable this provider only when this environment variable is set and non-empty.
    when_env: str | None = None
    #: The plugin's own settings table, validated by the plugin (see its README).
    settings: dict[str, Any] = field(default_factory=dict)
    models: dict[str, ModelOverride] = field(default_factory=dict)
    #: Publish each of this provider's models as "<provider>/<model>".
    expose_models: bool = True
    #: Timeouts for every model of this provider (a model's own ``timeouts`` win).
    timeouts: DeploymentTimeouts | None = None
    #: Globs of model ids to publish from the upstream's own model list (["*"]: all),
    #: instead of the plugin's built-in catalog; listed at start and every
    #: ``discover_interval_s`` (an OpenAI-compatible server with many models). Empty: off.
    discover: list[str] = field(default_factory=list)
    #: Seconds between two listings of the upstream's models (with ``discover``).
    discover_interval_s: Annotated[float, msgspec.Meta(ge=1.0)] = 300.0
    #: The genai-prices provider id whose prices this provider's models take (e.g.
    #: "groq" for an openai-plugin provider pointed at Groq); unset: the plugin's own
    #: ("google" for gemini), "" turns the lookup off (docs/pricing.md).
    price_provider: str | None = None


class TargetSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    """One deployment of a route: "<provider>/<model>" plus its routing knobs."""

    #: "<provider>/<model>": a provider instance and one of its models.
    target: str
    #: Share of traffic among deployments of equal rank (strategy "weighted"); > 0.
    weight: float = 1.0
    #: Fallback tier: lower ranks are tried first, equal ranks are balanced by the
    #: route's strategy. Unset: the position in the list for "ordered", 0 otherwise.
    rank: int | None = None
    #: Timeouts for this deployment on this route only (win over the model's).
    timeouts: DeploymentTimeouts | None = None


#: How a route orders deployments of equal rank: "ordered" keeps the config order
#: (pure fallback); "weighted" draws by ``weight``; "least_in_flight" prefers the fewest
#: requests in progress; "lowest_latency" prefers the lowest moving average of time to
#: first token.
RouteStrategy = Literal["ordered", "weighted", "least_in_flight", "lowest_latency"]


class RouteSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    #: Ordered deployments: "<provider>/<model>" or a table with ``target`` and knobs.
    deployments: list[str | TargetSettings]
    #: Other names clients may use for this route.
    aliases: list[str] = field(default_factory=list)
    #: Load-balancing strategy among deployments of equal rank (see RouteStrategy).
    strategy: RouteStrategy = "ordered"


class CircuitSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    """Per-deployment circuit breaker (state kept in each router process)."""

    #: Turn the breaker off: every deployment is always tried.
    enabled: bool = True
    #: Failures (5xx, timeouts, resets, 429s, malformed answers) within ``window_s``
    #: that open the circuit.
    failures: int = 5
    #: Sliding window, in seconds, over which failures are counted.
    window_s: float = 30.0
    #: Seconds an open circuit refuses traffic before one probe request may try it
    #: (half-open); the probe's success closes it, its failure opens it again.
    cooldown_s: float = 30.0
    #: Panic threshold: when more than this percentage of a request's deployments have
    #: open circuits, circuits are ignored and every deployment is tried (healthy ones
    #: first), so a route is never taken dark by its breakers: a one-deployment route
    #: always is tried. 100 turns panic off (all open: 503 at once).
    panic_threshold_percent: float = 50.0


class RoutingSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    """Retry budget and failure handling shared by every route."""

    #: Most upstream attempts for one request, retries and fallbacks together.
    max_attempts: int = 6
    #: Cap of the exponential backoff between two attempts on one deployment.
    retry_backoff_max_s: float = 2.0
    #: Longest upstream Retry-After waited out before retrying the same deployment;
    #: a longer one moves on to the next deployment at once.
    max_retry_wait_s: float = 5.0
    #: Smoothing factor of the time-to-first-token moving average ("lowest_latency").
    latency_ewma_alpha: float = 0.3
    circuit: CircuitSettings = field(default_factory=CircuitSettings)


class Settings(Struct, forbid_unknown_fields=True, kw_only=True):
    server: ServerSettings = field(default_factory=ServerSettings)
    upstream: UpstreamSettings = field(default_factory=UpstreamSettings)
    state: StateSettings = field(default_factory=StateSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    limits: LimitsSettings = field(default_factory=LimitsSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    guards: GuardSettings = field(default_factory=GuardSettings)
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)
    cors: CorsSettings = field(default_factory=CorsSettings)
    responses: ResponsesSettings = field(default_factory=ResponsesSettings)
    #: Provider instances by name; each uses one installed plugin.
    providers: dict[str, ProviderSettings] = field(default_factory=dict)
    #: Model names clients use, each an ordered list of deployments.
    routes: dict[str, RouteSettings] = field(default_factory=dict)
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    #: Where the file was read from (filled by load_settings).
    source: str = "<defaults>"


def target_name(entry: str | TargetSettings) -> str:
    return entry if isinstance(entry, str) else entry.target


def _resolve_env(node: Any, environ: Mapping[str, str], path: str, problems: list[str]) -> Any:
    """``env:NAME`` strings replaced by the variable; every missing one is a problem."""
    if isinstance(node, str) and node.startswith("env:"):
        name = node[4:]
        value = environ.get(name)
        if value is None:
            problems.append(f"{path}: environment variable {name} is not set")
            return ""
        return value
    if isinstance(node, dict):
        return {k: _resolve_env(v, environ, f"{path}.{k}", problems) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve_env(v, environ, f"{path}[{i}]", problems) for i, v in enumerate(node)]
    return node


def _drop_disabled_providers(raw: dict[str, Any], environ: Mapping[str, str]) -> None:
    providers = raw.get("providers")
    if not isinstance(providers, dict):
        return
    disabled = {
        name
        for name, p in providers.items()
        if isinstance(p, dict) and p.get("when_env") and not environ.get(str(p["when_env"]))
    }
    for name in disabled:
        del providers[name]
    routes = raw.get("routes")
    if not disabled or not isinstance(routes, dict):
        return
    for rname in list(routes):
        route = routes[rname]
        if not isinstance(route, dict) or not isinstance(route.get("deployments"), list):
            continue
        kept = [d for d in route["deployments"] if _target_provider(d) not in disabled]
        if kept:
            route["deployments"] = kept
        else:
            del routes[rname]


def _target_provider(entry: Any) -> str:
    target = entry.get("target", "") if isinstance(entry, dict) else str(entry)
    return str(target).split("/", 1)[0]


def parse_settings(text: str, environ: Mapping[str, str], source: str = "<string>") -> Settings:
    """Validate TOML text into Settings (see module docstring). Every problem the file has
    is reported at once, one per line of the ConfigError, each with its field path."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from exc
    _drop_disabled_providers(raw, environ)
    problems: list[str] = []
    raw = _resolve_env(raw, environ, "$", problems)
    shape = _shape_problems(raw)
    problems += shape
    if not shape:  # references are checked once the shapes are right
        settings = msgspec.convert({**raw, "source": source}, Settings)
        problems += (
            _routing_problems(settings.routing)
            + _state_problems(settings)
            + _reference_problems(settings)
        )
    if problems:
        raise ConfigError("\n".join(f"{source}: {p}" for p in problems))
    return settings


def _shape_problems(raw: dict[str, Any]) -> list[str]:
    """Type and unknown-key errors, section by section (and entry by entry for providers
    and routes), so one mistake does not hide the next."""
    hints = get_type_hints(Settings)
    problems: list[str] = []
    for key, value in raw.items():
        hint = hints.get(key)
        if hint is None or key == "source":
            problems.append(f"Object contains unknown field `{key}`")
            continue
        entries: list[tuple[str, Any, Any]] = [(f"$.{key}", value, hint)]
        if getattr(hint, "__origin__", None) is dict and isinstance(value, dict):
            item_type = hint.__args__[1]
            entries = [(f"$.{key}.{name}", item, item_type) for name, item in value.items()]
        for path, item, kind in entries:
            try:
                msgspec.convert(item, kind)
            except msgspec.ValidationError as exc:
                message = str(exc)
                if " - at `$" in message:
                    problems.append(message.replace("`$", f"`{path}", 1))
                else:  # msgspec names no path for the object itself
                    problems.append(f"{message} - at `{path}`")
    return problems


def _routing_problems(r: RoutingSettings) -> list[str]:
    checks = (
        (r.max_attempts < 1, "routing.max_attempts must be at least 1"),
        (not 0.0 < r.latency_ewma_alpha <= 1.0, "routing.latency_ewma_alpha must be in (0, 1]"),
        (r.circuit.failures < 1, "routing.circuit.failures must be at least 1"),
        (
            not 0.0 <= r.circuit.panic_threshold_percent <= 100.0,
            "routing.circuit.panic_threshold_percent must be in [0, 100]",
        ),
    )
    return [message for failed, message in checks if failed]


def _state_problems(settings: Settings) -> list[str]:
    st = settings.state
    checks = (
        (
            not (st.redis_timeout_s > 0 and st.redis_pool_timeout_s > 0),
            "state.redis_timeout_s and state.redis_pool_timeout_s must be > 0",
        ),
        (st.redis_pool_size < 1, "state.redis_pool_size must be at least 1"),
        (
            not 3.0 <= settings.limits.lease_ttl_s <= 3600.0,
            "limits.lease_ttl_s must be between 3 and 3600",
        ),
        (settings.auth.cache_stale_s < 0, "auth.cache_stale_s must be >= 0"),
    )
    return [message for failed, message in checks if failed]


def _reference_problems(settings: Settings) -> list[str]:
    problems: list[str] = []
    for rname, route in settings.routes.items():
        if not route.deployments:
            problems.append(f"routes.{rname}.deployments is empty")
        for i, entry in enumerate(route.deployments):
            where = f"routes.{rname}.deployments[{i}]"
            if isinstance(entry, TargetSettings) and entry.weight <= 0:
                problems.append(f"{where}.weight must be > 0")
            target = target_name(entry)
            provider, sep, model = target.partition("/")
            if not sep or not model:
                problems.append(f"{where}: {target!r} is not '<provider>/<model>'")
            elif provider not in settings.providers:
                problems.append(f"{where}: unknown provider {provider!r}")
    return problems


def load_settings(path: str | Path, environ: Mapping[str, str]) -> Settings:
    """Read and validate the config file at ``path``; relative paths in it are anchored to
    the file's folder."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{p}: cannot read config file: there is none; write a starter one with "
            f"`viberouter init {p.parent}` or name yours with --config FILE "
            "(or $VIBEROUTER_CONFIG)"
        ) from exc
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config file: {exc.strerror or exc}") from exc
    return anchor_paths(parse_settings(text, environ, str(p)), p.parent)


def load_state_settings(path: str | Path, environ: Mapping[str, str]) -> StateSettings:
    """Only the ``[state]`` section of the config file: what account, key, usage and member
    commands need. Other sections are not validated and their ``env:`` secrets are not
    required, so `accounts list` works where no provider key is set."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError:
        return load_settings(p, environ).state  # the same one-line error as every command
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from exc
    problems: list[str] = []
    section = _resolve_env(raw.get("state", {}), environ, "$.state", problems)
    if problems:
        raise ConfigError("\n".join(f"{p}: {problem}" for problem in problems))
    try:
        state = msgspec.convert(section, StateSettings)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{p}: {exc} (in [state])") from exc
    return anchor_paths(Settings(state=state, source=str(p)), p.parent).state


def anchor_paths(settings: Settings, folder: Path) -> Settings:
    """Relative file paths in a config file mean "beside the file", so a CLI call from
    another working directory opens the same database instead of creating an empty one."""

    def anchored(path: str) -> str:
        if not path or path == ":memory:" or path.startswith("file:") or Path(path).is_absolute():
            return path
        return os.path.abspath(folder / path)

    state = msgspec.structs.replace(
        settings.state, sqlite_path=anchored(settings.state.sqlite_path)
    )
    server = msgspec.structs.replace(settings.server, pid_file=anchored(settings.server.pid_file))
    return msgspec.structs.replace(settings, state=state, server=server)


def config_path(cli_value: str | None, environ: Mapping[str, str]) -> str:
    """--config wins, then VIBEROUTER_CONFIG, then the default path."""
    return cli_value or environ.get("VIBEROUTER_CONFIG") or DEFAULT_CONFIG_PATH
