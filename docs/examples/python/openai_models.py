"""List the models VibeRouter publishes, with the official openai SDK.

    VIBEROUTER_API_KEY=vr-... python openai_models.py

Besides the OpenAI fields (id, owned_by) every card carries VibeRouter's extras:
context_length, max_output_tokens, pricing, capabilities and status.
"""

import os

from openai import OpenAI

client = OpenAI(
    base_url=os.environ.get("VIBEROUTER_BASE_URL", "http://127.0.0.1:8080/v1"),
    api_key=os.environ["VIBEROUTER_API_KEY"],
)

for card in client.models.list():
    extra = card.model_extra or {}
    print(
        f"{card.id}\tcontext={extra.get('context_length')}\tstatus={extra.get('status')}"
        f"\ttools={extra.get('capabilities', {}).get('tools')}"
    )
