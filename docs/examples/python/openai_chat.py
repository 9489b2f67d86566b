"""A plain chat completion through VibeRouter with the official openai SDK.

    pip install openai
    export VIBEROUTER_API_KEY=vr-...        # printed by `viberouter serve` on first start
    python openai_chat.py

VIBEROUTER_BASE_URL (default http://127.0.0.1:8080/v1) and VIBEROUTER_MODEL (default
"echo", the offline echo model) point it elsewhere.
"""

import os

from openai import OpenAI

client = OpenAI(
    base_url=os.environ.get("VIBEROUTER_BASE_URL", "http://127.0.0.1:8080/v1"),
    api_key=os.environ["VIBEROUTER_API_KEY"],
)
model = os.environ.get("VIBEROUTER_MODEL", "echo")

response = client.chat.completions.create(
    model=model,
    messages=[
        {"role": "system", "content": "You are a concise assistant."},
        {"role": "user", "content": "Hello, VibeRouter!"},
    ],
    max_tokens=100,
)

choice = response.choices[0]
print(choice.message.content)
print(f"finish_reason={choice.finish_reason}")
if response.usage is not None:
    usage = response.usage
    print(f"tokens: prompt={usage.prompt_tokens} completion={usage.completion_tokens}")
