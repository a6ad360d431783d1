"""The real stack of `tests/stack.py`, served from a thread, for tests of synchronous clients.

`running_stack` runs on an asyncio loop; the `forge` commands and grpcurl block while they
wait for an answer. So the stack gets a loop of its own in a thread, and the test thread
calls it as any client would, through its address, or runs a coroutine on its loop with
`LiveStack.run`. `served_in_thread` does the same for anything built on the stack.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tests.stack import WAIT_S, Stack, running_stack

T = TypeVar("T")


@dataclass
class LiveStack:
    """The running stack and the loop it runs on."""

    stack: Stack
    loop: asyncio.AbstractEventLoop

    @property
    def address(self) -> str:
        return self.stack.address

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the stack's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(WAIT_S * 2)


@contextmanager
def stack_in_thread(tmp: Path, nats_url: str, **options: Any) -> Iterator[LiveStack]:
    """`running_stack` on SQLite in `tmp`, served from a thread until the block ends."""
    with served_in_thread(
        lambda: running_stack(tmp, f"sqlite:///{tmp}/forge.db", nats_url, **options)
    ) as (stack, loop):
        yield LiveStack(stack, loop)


@contextmanager
def served_in_thread(
    serve: Callable[[], AbstractAsyncContextManager[T]],
) -> Iterator[tuple[T, asyncio.AbstractEventLoop]]:
    """What `serve()` yields, and the loop it runs on in a thread of its own, until the block ends.

    For anything built on the stack, such as a gateway in front of it (`gateway_on_stack`).
    """
    started = threading.Event()
    state: dict[str, Any] = {}

    async def main() -> None:
        async with serve() as served:
            state.update(served=served, loop=asyncio.get_running_loop(), stop=asyncio.Event())
            started.set()
            await state["stop"].wait()

    def thread_main() -> None:
        try:
            asyncio.run(main())
        except BaseException as error:  # handed to the test thread below
            state["error"] = error
            started.set()

    thread = threading.Thread(target=thread_main, name="stack", daemon=True)
    thread.start()
    if not started.wait(WAIT_S * 2):
        raise TimeoutError("the stack did not start")
    if "error" in state:
        raise RuntimeError("the stack failed to start") from state["error"]
    try:
        yield state["served"], state["loop"]
    finally:
        state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(WAIT_S)
        if "error" in state:
            raise RuntimeError("the stack failed while stopping") from state["error"]
