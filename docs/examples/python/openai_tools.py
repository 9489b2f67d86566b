"""A streamed tool call and its round trip with the official openai SDK.

1. Offer a tool and stream the answer; the model calls the tool. Tool-call arguments
   arrive in fragments: collect them per ``index``.
2. Run the tool here, send its result back as a ``tool`` message.
3. Stream the model's final answer, which uses the result.

    VIBEROUTER_API_KEY=vr-... python openai_tools.py

The echo model calls a tool whose name the user message mentions, and answers a tool
result by quoting it, so this runs offline.
"""

import json
import os

from openai import OpenAI

client = OpenAI(
    base_url=os.environ.get("VIBEROUTER_BASE_URL", "http://127.0.0.1:8080/v1"),
    api_key=os.environ["VIBEROUTER_API_KEY"],
)
model = os.environ.get("VIBEROUTER_MODEL", "echo")

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "City name, e.g. Paris"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                },
                "required": ["city"],
            },
        },
    }
]


def get_weather(city: str, unit: str = "celsius") -> dict[str, object]:
    """The tool itself: a real program would call a weather service here."""
    return {"city": city, "forecast": "sunny", "temperature": 21, "unit": unit}


def stream_turn(messages: list[dict[str, object]]) -> tuple[str, list[dict[str, object]]]:
    """Stream one assistant turn; return its text and its complete tool calls."""
    stream = client.chat.completions.create(
        model=model, messages=messages, tools=TOOLS, stream=True
    )
    text = ""
    calls: dict[int, dict[str, object]] = {}
    for chunk in stream:
        for choice in chunk.choices:
            delta = choice.delta
            if delta.content:
                text += delta.content
                print(delta.content, end="", flush=True)
            for part in delta.tool_calls or []:
                # The first fragment of a call carries its id and name; later ones only
                # more argument text. ``index`` says which call a fragment belongs to.
                call = calls.setdefault(part.index, {"id": "", "name": "", "arguments": ""})
                if part.id:
                    call["id"] = part.id
                if part.function and part.function.name:
                    call["name"] = part.function.name
                if part.function and part.function.arguments:
                    call["arguments"] = str(call["arguments"]) + part.function.arguments
    if text:
        print()
    return text, [calls[i] for i in sorted(calls)]


messages: list[dict[str, object]] = [
    {"role": "user", "content": "What is the weather in Paris? Use get_weather."}
]
text, calls = stream_turn(messages)
if not calls:
    raise SystemExit("the model answered without calling the tool")

# The assistant's tool calls go back into the conversation, then one result per call.
messages.append(
    {
        "role": "assistant",
        "content": text or None,
        "tool_calls": [
            {
                "id": c["id"],
                "type": "function",
                "function": {"name": c["name"], "arguments": c["arguments"]},
            }
            for c in calls
        ],
    }
)
for call in calls:
    arguments = json.loads(str(call["arguments"]))
    print(f"tool call: {call['name']}({json.dumps(arguments)})")
    result = get_weather(**arguments)
    messages.append({"role": "tool", "tool_call_id": call["id"], "content": json.dumps(result)})

print("answer: ", end="")
answer, _ = stream_turn(messages)
