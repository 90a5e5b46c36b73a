"""The asyncio pieces the runner schedules with: a timed await, a put that cannot hang on dead
consumers, a future set once, and any iterable walked as an async one."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Iterable, Sequence
from typing import TypeVar

T = TypeVar("T")

if sys.version_info >= (3, 11):

    async def timed(coroutine: Awaitable[T], seconds: float) -> T:
        async with asyncio.timeout(seconds):  # no extra task per request, unlike wait_for
            return await coroutine
else:
    timed = asyncio.wait_for


def set_once(future: asyncio.Future[None]) -> None:
    """Set `future` unless it is set already (by whichever of several callbacks came first)."""
    if not future.done():
        future.set_result(None)


async def put_watching(queue: asyncio.Queue[T], item: T, watch: Sequence[asyncio.Future[None]]) -> None:
    """Put, unless one of `watch` ends first (a worker that died of a fatal error): waiting on a
    full queue alone could block forever."""
    if not queue.full():
        queue.put_nowait(item)
        return
    put = asyncio.ensure_future(queue.put(item))
    await asyncio.wait([put, *watch], return_when=asyncio.FIRST_COMPLETED)
    if not put.done():
        put.cancel()


async def as_async(items: Iterable[T] | AsyncIterable[T]) -> AsyncIterator[T]:
    """The items of an iterable or an async iterable, as an async iterator."""
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item
