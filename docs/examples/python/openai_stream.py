"""A streamed chat completion with the official openai SDK: text as it arrives, then
the finish reason and the token usage (sent as a last chunk with no choices).

    VIBEROUTER_API_KEY=vr-... python openai_stream.py
"""

import os

from openai import OpenAI

client = OpenAI(
    base_url=os.environ.get("VIBEROUTER_BASE_URL", "http://127.0.0.1:8080/v1"),
    api_key=os.environ["VIBEROUTER_API_KEY"],
)
model = os.environ.get("VIBEROUTER_MODEL", "echo")

stream = client.chat.completions.create(
    model=model,
    messages=[{"role": "user", "content": "Stream these words one by one, please."}],
    stream=True,
    # Ask for the usage chunk; without this option the router leaves it out.
    stream_options={"include_usage": True},
)

finish_reason = None
for chunk in stream:
    if chunk.usage is not None:  # the usage chunk: choices is empty
        usage = chunk.usage
        print(f"tokens: prompt={usage.prompt_tokens} completion={usage.completion_tokens}")
        continue
    for choice in chunk.choices:
        if choice.delta.content:
            print(choice.delta.content, end="", flush=True)
        if choice.finish_reason is not None:
            finish_reason = choice.finish_reason
            print()
            print(f"finish_reason={finish_reason}")
