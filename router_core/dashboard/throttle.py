"""Sign-in throttling: per email and client address, exponential backoff.

Counts live in the Store, so every router process sharing a Redis shares them.
"""

from __future__ import annotations

from router_core.dashboard.settings import DashboardSettings
from router_core.store.base import Store


def subject(email: str, address: str) -> str:
    """The throttling key of one email tried from one address."""
    return f"{email.strip().lower()}|{address}"


class LoginThrottle:
    """How long a subject must wait before its next attempt, and bookkeeping."""

    def __init__(self, store: Store, settings: DashboardSettings) -> None:
        self._store = store
        self._s = settings

    def backoff(self, failures: int) -> float:
        """Seconds between attempts after ``failures`` failed ones."""
        extra = failures - self._s.login_free_attempts
        if extra < 0:
            return 0.0
        return float(
            min(self._s.login_backoff_s * 2 ** min(extra, 30), self._s.login_backoff_max_s)
        )

    async def wait(self, key: str, now: float) -> float:
        """Seconds until ``key`` may try again (0 = now)."""
        failures, last = await self._store.login_failures(key)
        if failures == 0 or now - last >= self._s.login_forget_after_s:
            return 0.0
        return max(0.0, last + self.backoff(failures) - now)

    async def failed(self, key: str, now: float) -> float:
        """Count a failure; return the wait it imposes."""
        failures = await self._store.add_login_failure(key, now, self._s.login_forget_after_s)
        return self.backoff(failures)

    async def reserve(self, key: str, now: float) -> float:
        """Count this attempt before its password is checked (one atomic increment, so
        guesses sent in parallel are counted too); return the wait that the attempts
        before it impose: above 0, this one must not be checked."""
        failures = await self._store.add_login_failure(key, now, self._s.login_forget_after_s)
        return self.backoff(failures - 1)

    async def succeeded(self, key: str) -> None:
        """A correct password clears the count."""
        await self._store.clear_login_failures(key)
