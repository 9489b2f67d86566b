"""Sign-in throttling: exponential backoff per email and client address, and a coarse
cap on failures per address.

The backoff counts from the last failure, so the right password always gets in once it
has passed; refused attempts are not counted, so waiting out a refusal is enough. No
lock-out is keyed on the email alone: a stranger elsewhere cannot lock a member out,
and one sharing the member's address can only make them wait one backoff at a time.
The per-address cap (failures across all emails in a fixed window) stops one address
from spraying passwords over many members; it is forgotten when the window ends.
Counts live in the Store, so every router process sharing a Redis shares them.
"""

from __future__ import annotations

from router_core.dashboard.settings import DashboardSettings
from router_core.store.base import DashboardStore


def subject(email: str, address: str) -> str:
    """The throttling key of one email tried from one address."""
    return f"member|{email.strip().lower()}|{address}"


def address_subject(address: str, window: int) -> str:
    """The throttling key of every failure from one address in one window."""
    # The first field differs from member subjects, so no email can collide with it.
    return f"address|{address}|{window}"


class LoginThrottle:
    """Whether a sign-in attempt may have its password checked, and bookkeeping."""

    def __init__(self, store: DashboardStore, settings: DashboardSettings) -> None:
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

    def _since_last(self, failures: int, last: float, now: float) -> float:
        if failures == 0 or now - last >= self._s.login_forget_after_s:
            return 0.0
        return max(0.0, last + self.backoff(failures) - now)

    async def wait(self, email: str, address: str, now: float) -> float:
        """Seconds until this email may be tried from this address (0 = now)."""
        wait, _ = await self._waits(email, address, now)
        return wait

    async def admit(self, email: str, address: str, now: float) -> float:
        """0: check this attempt's password now (it is counted as a failure until
        ``succeeded``); above 0: refuse it uncounted, and this is the wait."""
        wait, before = await self._waits(email, address, now)
        if wait > 0:
            return wait
        # Counted before the (slow) check with one atomic increment, so guesses sent in
        # parallel are throttled too.
        count = await self._store.add_login_failure(
            subject(email, address), now, self._s.login_forget_after_s
        )
        if count - 1 > before:
            # Attempts racing this one were counted since the read: they failed just
            # now, so their backoff runs from now.
            return self.backoff(count - 1)
        return 0.0

    async def _waits(self, email: str, address: str, now: float) -> tuple[float, int]:
        """The wait and the member subject's failure count as read."""
        window, ends = self._window(now)
        spent, _ = await self._store.login_failures(address_subject(address, window))
        failures, last = await self._store.login_failures(subject(email, address))
        if spent >= self._s.login_address_max_failures:
            return max(0.0, ends - now), failures
        return self._since_last(failures, last, now), failures

    async def failed(self, address: str, now: float) -> None:
        """A wrong password: count it against the address's window too."""
        window, ends = self._window(now)
        await self._store.add_login_failure(
            address_subject(address, window), now, max(1.0, ends - now)
        )

    async def succeeded(self, email: str, address: str) -> None:
        """A correct password clears the member's count (not the address's: a
        sprayer's one valid account must not reset it)."""
        await self._store.clear_login_failures(subject(email, address))

    def _window(self, now: float) -> tuple[int, float]:
        length = self._s.login_address_window_s
        window = int(now // length)
        return window, (window + 1) * length
