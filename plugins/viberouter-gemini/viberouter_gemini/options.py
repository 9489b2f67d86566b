"""OpenAI request options -> Gemini ``generationConfig``, ``tools`` and ``toolConfig``.

Options Gemini cannot honour are refused with ``InvalidRequest`` naming the field,
so the core can try another deployment instead of silently changing the answer.
Purely advisory fields with no Gemini counterpart (``user``, ``metadata``,
``store``, ``service_tier``, ``prompt_cache_key``, ``safety_identifier``,
``parallel_tool_calls``, ``verbosity``, tool ``strict``) are ignored; see README.
So are ``cache_control`` breakpoints: Gemini 2.5+ caches repeated prompt prefixes by
itself (implicit caching) and reports the hits as ``cachedContentTokenCount``.
"""

from __future__ import annotations

from router_core.plugin_api import ChatRequest, InvalidRequest, ReasoningConfig, Tool

from .settings import GeminiExtras
from .wire import (
    FunctionCallingConfig,
    FunctionDeclaration,
    GeminiTool,
    GenerationConfig,
    ThinkingConfig,
    ToolConfig,
)

# reasoning_effort -> Gemini 2.x thinkingBudget (tokens), the values Google's own
# OpenAI-compatible endpoint documents; Gemini 3 takes a thinkingLevel instead.
_BUDGETS = {"none": 0, "minimal": 1024, "low": 1024, "medium": 8192, "high": 24576}
_LEVELS = {"minimal": "minimal", "low": "low", "medium": "medium", "high": "high"}


def refuse_unsupported(request: ChatRequest) -> None:
    """Raise ``InvalidRequest`` for the first field Gemini cannot honour."""
    if request.logit_bias:
        raise InvalidRequest("logit_bias: not supported by Gemini")
    if request.audio is not None:
        raise InvalidRequest("audio: audio output is not supported by this provider")
    if request.modalities is not None and set(request.modalities) - {"text"}:
        raise InvalidRequest("modalities: only 'text' output is supported by this provider")
    if request.prediction is not None:
        raise InvalidRequest("prediction: predicted outputs are not supported by Gemini")
    if request.web_search_options is not None:
        raise InvalidRequest("web_search_options: not supported by this provider")
    if request.top_logprobs is not None and not request.logprobs:
        raise InvalidRequest("top_logprobs: requires logprobs to be true")


def generation_config(
    request: ChatRequest, extras: GeminiExtras | None, model: str
) -> GenerationConfig | None:
    """The ``generationConfig`` object, or None when the client set nothing."""
    cfg = GenerationConfig()
    if request.temperature is not None:
        cfg.temperature = request.temperature
    if request.top_p is not None:
        cfg.top_p = request.top_p
    if request.output_limit is not None:
        cfg.max_output_tokens = request.output_limit
    if request.stop is not None:
        cfg.stop_sequences = [request.stop] if isinstance(request.stop, str) else request.stop
    if request.n is not None:
        cfg.candidate_count = request.n
    if request.presence_penalty is not None:
        cfg.presence_penalty = request.presence_penalty
    if request.frequency_penalty is not None:
        cfg.frequency_penalty = request.frequency_penalty
    if request.seed is not None:
        cfg.seed = request.seed
    if request.logprobs:
        cfg.response_logprobs = True
        if request.top_logprobs is not None:
            cfg.logprobs = request.top_logprobs
    _response_format(request, cfg)
    if extras is not None and extras.top_k is not None:
        cfg.top_k = extras.top_k
    thinking = _thinking(request, extras, model)
    if thinking is not None:
        cfg.thinking_config = thinking
    return None if cfg == GenerationConfig() else cfg


def _response_format(request: ChatRequest, cfg: GenerationConfig) -> None:
    fmt = request.response_format
    if fmt is None or fmt.type == "text":
        return
    cfg.response_mime_type = "application/json"
    if fmt.type == "json_schema" and fmt.json_schema and isinstance(fmt.json_schema.schema, dict):
        # Full JSON Schema: responseSchema takes only an OpenAPI subset.
        cfg.response_json_schema = fmt.json_schema.schema


def _thinking(
    request: ChatRequest, extras: GeminiExtras | None, model: str
) -> ThinkingConfig | None:
    cfg = ThinkingConfig()
    effort = request.reasoning_effort
    reasoning = request.reasoning
    if reasoning is not None:
        effort = _openrouter_reasoning(reasoning, effort, model, cfg)
    if effort is not None:
        table = _LEVELS if model.startswith("gemini-3") else _BUDGETS
        if effort not in table:
            raise InvalidRequest(
                f"reasoning_effort: '{effort}' is not supported for {model}; "
                f"use one of {', '.join(table)}"
            )
        if table is _LEVELS:
            cfg.thinking_level = _LEVELS[effort]
        else:
            cfg.thinking_budget = _BUDGETS[effort]
    if extras is not None:
        if extras.thinking_budget is not None:
            if effort is not None or reasoning is not None:
                raise InvalidRequest("thinking_budget: give either it or reasoning_effort")
            cfg.thinking_budget = extras.thinking_budget
        if extras.include_thoughts is not None:
            cfg.include_thoughts = extras.include_thoughts
    return None if cfg == ThinkingConfig() else cfg


def _openrouter_reasoning(
    reasoning: ReasoningConfig, effort: str | None, model: str, cfg: ThinkingConfig
) -> str | None:
    """OpenRouter's object: a budget (Gemini 2.x), or an effort like reasoning_effort
    (xhigh and max are Gemini's high); the thoughts come back unless excluded. Sets the
    budget on ``cfg`` itself and returns the effort left to map."""
    if reasoning.enabled is False or reasoning.effort == "none":
        return "none"
    cfg.include_thoughts = not reasoning.exclude
    if reasoning.max_tokens is not None and not model.startswith("gemini-3"):
        cfg.thinking_budget = reasoning.max_tokens
        return None
    effort = reasoning.effort or effort or ("medium" if reasoning.enabled else None)
    return "high" if effort in ("xhigh", "max") else effort


def tools_and_config(request: ChatRequest) -> tuple[list[GeminiTool] | None, ToolConfig | None]:
    """``tools`` (one functionDeclarations list) and ``toolConfig`` from tools/tool_choice."""
    tools = request.tools or []
    choice = request.tool_choice
    if not tools:
        if choice is None or choice == "none":
            return None, None
        raise InvalidRequest("tool_choice: requires tools")
    names = {t.function.name for t in tools}
    allowed: list[str] | None = None
    if choice is None or choice == "auto":
        mode = "AUTO"
    elif choice == "none":
        mode = "NONE"
    elif choice == "required":
        mode = "ANY"
    elif choice.type == "function":
        if not choice.function or choice.function.name not in names:
            raise InvalidRequest("tool_choice.function.name: not one of the declared tools")
        mode, allowed = "ANY", [choice.function.name]
    else:
        mode, allowed = _allowed_tools(choice.allowed_tools or {}, names)
        if mode == "AUTO":
            # AUTO cannot carry allowedFunctionNames: declare only the allowed tools.
            tools = [t for t in tools if t.function.name in set(allowed)]
            allowed = None
    config = FunctionCallingConfig(mode=mode)
    if allowed is not None:
        config.allowed_function_names = allowed
    declarations = [_declaration(t) for t in tools]
    return [GeminiTool(function_declarations=declarations)], ToolConfig(
        function_calling_config=config
    )


def _allowed_tools(spec: dict[str, object], names: set[str]) -> tuple[str, list[str]]:
    mode = spec.get("mode", "auto")
    if mode not in ("auto", "required"):
        raise InvalidRequest("tool_choice.allowed_tools.mode: must be 'auto' or 'required'")
    allowed: list[str] = []
    entries = spec.get("tools")
    for k, entry in enumerate(entries if isinstance(entries, list) else []):
        fn = entry.get("function") if isinstance(entry, dict) else None
        name = fn.get("name") if isinstance(fn, dict) else None
        if not isinstance(name, str) or name not in names:
            raise InvalidRequest(
                f"tool_choice.allowed_tools.tools[{k}]: not one of the declared tools"
            )
        allowed.append(name)
    if not allowed:
        raise InvalidRequest("tool_choice.allowed_tools.tools: must name at least one tool")
    return ("ANY" if mode == "required" else "AUTO"), allowed


def _declaration(tool: Tool) -> FunctionDeclaration:
    fn = tool.function
    decl = FunctionDeclaration(name=fn.name)
    if isinstance(fn.description, str):
        decl.description = fn.description
    if isinstance(fn.parameters, dict):
        # parametersJsonSchema takes full JSON Schema; the older `parameters` field takes
        # an OpenAPI 3.0 subset and answers 400 to common keywords (additionalProperties,
        # $schema, const, type arrays) that OpenAI clients send routinely.
        decl.parameters_json_schema = fn.parameters
    return decl
