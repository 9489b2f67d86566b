"""How many tokens admission holds for a request under a tokens-per-minute limit.

Admission reserves the prompt estimate plus the output budget (max_tokens, else the
model card's default output) and settles to the real usage afterwards. A key whose TPM
is below the card's default output would otherwise refuse every request that does not
set max_tokens, with a 429 that SDKs retry forever. So the reservation never exceeds
the limit, and a request that can never fit (its prompt, plus the max_tokens it asked
for, above the limit) is refused at once, naming both numbers, with x-should-retry false.
"""

from __future__ import annotations

from router_core.errors import RequestTooLarge


def fit_reservation(tpm: int | None, prompt: int, max_tokens: int | None, wanted: int) -> int:
    """The tokens to reserve: ``wanted`` capped at ``tpm``; RequestTooLarge when the
    request cannot fit at all. ``None`` (no limit) and ``0`` (nothing allowed: the limiter
    refuses as configured) leave ``wanted`` as it is."""
    if not tpm:
        return wanted
    asked = prompt + (max_tokens or 0)
    if asked > tpm:
        parts = f"a prompt of about {prompt}" + (
            f" + max_tokens {max_tokens}" if max_tokens else ""
        )
        raise RequestTooLarge(
            f"Request too large for this key's tokens-per-minute limit: limit {tpm}, "
            f"requested {asked} ({parts}); send fewer tokens or ask for a higher limit"
        )
    return min(wanted, tpm)
