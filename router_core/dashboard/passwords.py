"""Member passwords: scrypt from the standard library, in a self-describing string.

Stored form: ``scrypt$<log2 N>$<r>$<p>$<salt>$<hash>`` (salt and hash URL-safe
base64 without padding), so the cost can rise later without breaking old hashes.
Hashing costs ~0.1 s of CPU and 32 MiB: the async helpers run it on a worker thread.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import hashlib
import hmac
import secrets

LOG2_N, R, P = 15, 8, 1
_DKLEN = 32
_MAXMEM = 64 * 1024 * 1024
MIN_LENGTH = 8
MAX_LENGTH = 1024

# A hash of a password nobody knows: checked when an email is unknown, so a sign-in
# takes as long whether or not the account exists.
_DECOY = "scrypt$15$8$1$pJkpoFkbK__fVt3cW_Hw8g$OWsheCjNwcUX_Piz02UPPzIFCTCrz3qjdgkaF06TqtE"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=1 << log2_n, r=r, p=p, maxmem=_MAXMEM, dklen=_DKLEN
    )


def check_policy(password: str) -> None:
    """Raise ValueError for a password too short or too long to accept."""
    if len(password) < MIN_LENGTH:
        raise ValueError(f"the password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise ValueError(f"the password must have at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    """The stored form of ``password`` (blocking; see ``hash_password_async``)."""
    salt = secrets.token_bytes(16)
    digest = _derive(password, salt, LOG2_N, R, P)
    return f"scrypt${LOG2_N}${R}${P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored``; None checks against a decoy (False)."""
    decoy = stored is None
    try:
        scheme, log2_n, r, p, salt, digest = (stored or _DECOY).split("$")
        if scheme != "scrypt":
            return False
        derived = _derive(password[:MAX_LENGTH], _unb64(salt), int(log2_n), int(r), int(p))
        return hmac.compare_digest(derived, _unb64(digest)) and not decoy
    except (ValueError, binascii.Error):
        return False


#: scrypt runs here, not on the loop's default pool: a flood of sign-ins then waits its
#: turn instead of starving what shares the default pool (DNS lookups for upstreams).
_KDF_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="kdf")


async def hash_password_async(password: str) -> str:
    """``hash_password`` on a worker thread."""
    return await asyncio.get_running_loop().run_in_executor(_KDF_POOL, hash_password, password)


async def verify_password_async(password: str, stored: str | None) -> bool:
    """``verify_password`` on a worker thread."""
    return await asyncio.get_running_loop().run_in_executor(
        _KDF_POOL, verify_password, password, stored
    )


def generate_password() -> str:
    """A random password for an operator to hand over (~96 bits)."""
    return secrets.token_urlsafe(12)
