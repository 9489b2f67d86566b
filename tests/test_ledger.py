"""The usage ledger: batched writes, each batch written exactly once."""

from __future__ import annotations

from router_core.ledger import UsageLedger
from router_core.store.base import UsageEvent


class _FlakyTouchStore:
    """A store whose usage write works and whose key touch fails once."""

    def __init__(self) -> None:
        self.recorded: list[UsageEvent] = []
        self.touch_failures = 1

    async def record_usage(self, events: list[UsageEvent]) -> None:
        self.recorded.extend(events)

    async def touch_keys(self, last_used: dict[str, float]) -> None:
        if self.touch_failures:
            self.touch_failures -= 1
            raise OSError("store down")


async def test_ledger_never_writes_a_batch_twice() -> None:
    store = _FlakyTouchStore()
    ledger = UsageLedger(store)  # type: ignore[arg-type]
    ledger.record(UsageEvent(1.0, "acct", "key", "m", 1, 2, 0.0))
    await ledger.flush()  # usage written, touch failed
    await ledger.flush()  # touch retried
    assert len(store.recorded) == 1
