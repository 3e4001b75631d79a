"""Dynamic batching: many concurrent requests, one worker thread that owns the model.

Requests submit single items (page images) and await their own result. A collector task on the event loop takes
the first waiting item, keeps collecting for at most ``batch_timeout_ms`` or until ``max_batch_size`` items, and
hands the batch to the one worker thread. While that batch runs, new items queue up, so under load the next batch
fills at once and the window costs nothing; when idle, a lone request waits at most the window.

One thread (not a pool) runs every model call: PyTorch already parallelises inside an operator, two batches at
once would only compete for the same cores and double the activation memory, and a model that is only ever touched
by one thread needs no locking.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["BatchOptions", "DynamicBatcher", "QueueFullError", "BatcherClosedError"]

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")
ValueT = TypeVar("ValueT")


class QueueFullError(RuntimeError):
    """Raised by :meth:`DynamicBatcher.submit` when ``max_queue_size`` items already wait (the server is overloaded)."""


class BatcherClosedError(RuntimeError):
    """Raised for items submitted before :meth:`DynamicBatcher.start` or after :meth:`DynamicBatcher.stop`."""


@dataclass(frozen=True)
class BatchOptions:
    """How requests are grouped into model calls.

    Attributes:
        max_batch_size: most items per model call.
        batch_timeout_ms: longest time the first item of a batch waits for others to join it.
        max_queue_size: most items waiting (not yet in a running batch); beyond it :meth:`DynamicBatcher.submit`
            raises :class:`QueueFullError` at once, so an overloaded server answers quickly instead of timing out.
    """

    max_batch_size: int = 8
    batch_timeout_ms: float = 5.0
    max_queue_size: int = 512

    def __post_init__(self) -> None:
        if self.max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {self.max_batch_size}")
        if self.batch_timeout_ms < 0:
            raise ValueError(f"batch_timeout_ms must be non-negative, got {self.batch_timeout_ms}")
        if self.max_queue_size < 1:
            raise ValueError(f"max_queue_size must be at least 1, got {self.max_queue_size}")


@dataclass
class _Pending(Generic[ItemT, ResultT]):
    item: ItemT
    future: asyncio.Future[ResultT]


class DynamicBatcher(Generic[ItemT, ResultT]):
    """Collect concurrently submitted items into batches and run them on one worker thread.

    Args:
        run_batch: called on the worker thread with a list of items; returns one result per item, in order. An
            exception fails every item of that batch (the caller decides whether items can fail one by one, for
            example by returning error values).
        options: batch size, collection window and queue bound.

    Use it from one event loop: ``await start()``, then ``await submit(item)`` from any number of tasks, then
    ``await stop()``.

    >>> async def demo():
    ...     batcher = DynamicBatcher(lambda xs: [x * 2 for x in xs], options=BatchOptions(max_batch_size=4))
    ...     await batcher.start()
    ...     try:
    ...         return await asyncio.gather(*(batcher.submit(i) for i in range(6)))
    ...     finally:
    ...         await batcher.stop()
    >>> asyncio.run(demo())
    [0, 2, 4, 6, 8, 10]
    """

    def __init__(
        self, run_batch: Callable[[list[ItemT]], Sequence[ResultT]], *, options: BatchOptions | None = None
    ) -> None:
        self._run_batch = run_batch
        self.options = options or BatchOptions()
        self._queue: asyncio.Queue[_Pending[ItemT, ResultT]] | None = None
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._collector: asyncio.Task[None] | None = None
        self.batches_run = 0
        self.items_run = 0

    @property
    def running(self) -> bool:
        """Whether :meth:`start` has run and :meth:`stop` has not."""
        return self._collector is not None and not self._collector.done()

    @property
    def queued(self) -> int:
        """Items waiting for a batch (not counting the batch that is running)."""
        return 0 if self._queue is None else self._queue.qsize()

    async def start(self) -> None:
        """Create the worker thread and start collecting; call from the event loop that will submit items."""
        if self.running:
            raise RuntimeError("the batcher is already running")
        self._queue = asyncio.Queue(maxsize=self.options.max_queue_size)
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="textspotter-model")
        self._collector = asyncio.get_running_loop().create_task(self._collect(), name="textspotter-batcher")

    async def call(self, fn: Callable[[], ValueT]) -> ValueT:
        """Run ``fn()`` on the worker thread (between batches) and return its result, for example to load the model.

        Raises:
            BatcherClosedError: before :meth:`start` or after :meth:`stop`.
        """
        if self._executor is None:
            raise BatcherClosedError("the batcher is not running")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def submit(self, item: ItemT) -> ResultT:
        """Queue one item and wait for its result.

        Raises:
            QueueFullError: ``max_queue_size`` items are already waiting.
            BatcherClosedError: the batcher is not running, or stopped before the item ran.
            Exception: whatever ``run_batch`` raised for the batch this item was in.
        """
        if not self.running or self._queue is None:
            raise BatcherClosedError("the batcher is not running")
        future: asyncio.Future[ResultT] = asyncio.get_running_loop().create_future()
        try:
            self._queue.put_nowait(_Pending(item, future))
        except asyncio.QueueFull:
            raise QueueFullError(f"{self.options.max_queue_size} images are already waiting; try again later") from None
        return await future

    async def stop(self) -> None:
        """Stop collecting, fail the items still waiting and shut the worker thread down after its current batch."""
        collector, self._collector = self._collector, None
        while collector is not None and not collector.done():
            # Cancel again if needed: on Python < 3.12 ``asyncio.wait_for`` can swallow a cancellation that arrives
            # just as its queue read completes. The collector fails the futures of a batch it was running.
            collector.cancel()
            await asyncio.wait({collector}, timeout=0.1)
        if self._queue is not None:
            while not self._queue.empty():
                pending = self._queue.get_nowait()
                if not pending.future.done():
                    pending.future.set_exception(BatcherClosedError("the server is shutting down"))
        if self._executor is not None:
            executor, self._executor = self._executor, None
            # Waiting in a thread keeps the event loop free to finish other requests' responses meanwhile.
            await asyncio.to_thread(executor.shutdown, wait=True)

    async def _collect(self) -> None:
        assert self._queue is not None and self._executor is not None  # set together in start()
        loop = asyncio.get_running_loop()
        window = self.options.batch_timeout_ms / 1000.0
        while True:
            batch = [await self._queue.get()]
            deadline = time.monotonic() + window
            while len(batch) < self.options.max_batch_size:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    # Window over: still take whatever is already queued, it costs no waiting.
                    while len(batch) < self.options.max_batch_size and not self._queue.empty():
                        batch.append(self._queue.get_nowait())
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except asyncio.TimeoutError:
                    continue
            # A client that went away cancelled its future; do not spend model time on it.
            batch = [p for p in batch if not p.future.done()]
            if not batch:
                continue
            items = [p.item for p in batch]
            try:
                results = await loop.run_in_executor(self._executor, self._run_batch, items)
                if len(results) != len(batch):
                    raise RuntimeError(f"run_batch returned {len(results)} results for {len(batch)} items")
            except asyncio.CancelledError:
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(BatcherClosedError("the server is shutting down"))
                raise
            except Exception as error:  # noqa: BLE001 - any failure of the model call belongs to its requests
                for p in batch:
                    if not p.future.done():
                        p.future.set_exception(error)
                del batch, items, p
                continue
            self.batches_run += 1
            self.items_run += len(batch)
            for p, result in zip(batch, results):
                if not p.future.done():
                    p.future.set_result(result)
            # Drop this batch's items (page images) now, not when the next item arrives: an idle server would
            # otherwise hold its last batch's pages.
            del batch, items, results, p
