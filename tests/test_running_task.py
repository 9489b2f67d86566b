"""``running_task.current_task`` answers as ``asyncio.current_task`` does, in every
loop and thread, and asks the running loop only when its remembered one has no task."""

from __future__ import annotations

import asyncio
import threading

import pytest

from router_core import running_task
from router_core.running_task import current_task


async def test_it_is_the_task_running_now() -> None:
    async def which() -> asyncio.Task[object] | None:
        return current_task()

    task = asyncio.ensure_future(which())
    assert await task is task
    assert current_task() is asyncio.current_task()


def test_a_new_loop_in_the_same_thread_is_found() -> None:
    async def which() -> asyncio.Task[object] | None:
        return current_task()

    for _ in range(2):  # the second loop finds the first one remembered, and idle
        loop = asyncio.new_event_loop()
        try:
            task = loop.create_task(which())
            assert loop.run_until_complete(task) is task
            assert running_task._loops.loop is loop
        finally:
            loop.close()


def test_each_thread_asks_its_own_loop() -> None:
    # Thread a remembers its loop and stays inside its task's step; thread b then
    # asks for its own task, and stays inside its step while a asks again. One loop
    # remembered for both threads would answer the other thread's task.
    a_asked, b_inside, b_may_end = threading.Event(), threading.Event(), threading.Event()
    answers: dict[str, bool] = {}

    def b() -> None:
        async def main() -> None:
            a_asked.wait(timeout=5)
            answers["b"] = current_task() is asyncio.current_task()
            b_inside.set()
            b_may_end.wait(timeout=5)  # blocks b's loop inside its task's step

        asyncio.run(main())

    def a() -> None:
        async def main() -> None:
            current_task()  # a's loop remembered (where it is per thread)
            a_asked.set()
            b_inside.wait(timeout=5)
            answers["a"] = current_task() is asyncio.current_task()
            b_may_end.set()

        asyncio.run(main())

    threads = [threading.Thread(target=b), threading.Thread(target=a)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert answers == {"a": True, "b": True}


def test_without_a_running_loop_it_raises_as_asyncio_does() -> None:
    with pytest.raises(RuntimeError):
        asyncio.current_task()
    with pytest.raises(RuntimeError):
        current_task()
