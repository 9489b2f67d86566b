"""serve.py's collector policy once listening: start-up objects frozen out of the
collector's generations, the young generation widened; cycles still collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from router_core.serve import GC_YOUNG_THRESHOLD, freeze_startup_heap


@pytest.fixture
def restore_gc() -> Iterator[None]:
    before = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_start_up_objects_are_frozen_and_cycles_still_collected(restore_gc: None) -> None:
    freeze_startup_heap()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
    a, b = _Node(), _Node()
    a.other, b.other = b, a  # a cycle made after start-up, as a request might
    gone = weakref.ref(a)
    del a, b
    gc.collect()
    assert gone() is None
