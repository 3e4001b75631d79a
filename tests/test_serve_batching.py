"""The dynamic batcher on its own, with plain functions in place of the model."""

import asyncio
import contextlib
import gc
import threading
import time
import weakref

import numpy as np
import pytest

from textspotter.serve.batching import BatcherClosedError, BatchOptions, DynamicBatcher, QueueFullError


class RecordingModel:
    """Doubles its inputs, records each batch and the thread it ran on; can be held to let requests pile up."""

    def __init__(self, delay: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.threads: set[str] = set()
        self.delay = delay
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, items: list[int]) -> list[int]:
        self.gate.wait(timeout=5)
        self.threads.add(threading.current_thread().name)
        self.batches.append(list(items))
        time.sleep(self.delay)
        return [2 * x for x in items]


async def _with_batcher(model, options, body):
    batcher = DynamicBatcher(model, options=options)
    await batcher.start()
    try:
        return await body(batcher)
    finally:
        await batcher.stop()


def test_concurrent_items_are_batched_and_answered_in_their_own_order():
    model = RecordingModel(delay=0.02)

    async def body(batcher):
        return await asyncio.gather(*(batcher.submit(i) for i in range(10)))

    results = asyncio.run(_with_batcher(model, BatchOptions(max_batch_size=4, batch_timeout_ms=50), body))
    assert results == [2 * i for i in range(10)]
    assert [len(b) for b in model.batches] == [4, 4, 2]
    assert sorted(x for b in model.batches for x in b) == list(range(10))
    # One worker thread runs every batch, never the event loop's thread.
    assert len(model.threads) == 1 and threading.main_thread().name not in model.threads


def test_a_lone_item_waits_only_the_collection_window():
    model = RecordingModel()

    async def body(batcher):
        start = time.monotonic()
        result = await batcher.submit(21)
        return result, time.monotonic() - start

    result, elapsed = asyncio.run(_with_batcher(model, BatchOptions(max_batch_size=8, batch_timeout_ms=30), body))
    assert result == 42
    assert model.batches == [[21]]
    assert 0.025 <= elapsed < 1.0


def test_items_arriving_while_a_batch_runs_form_the_next_batch():
    model = RecordingModel()
    model.gate.clear()

    async def body(batcher):
        first = asyncio.ensure_future(batcher.submit(0))
        await asyncio.sleep(0.05)  # the first batch [0] is now blocked in the worker thread
        rest = [asyncio.ensure_future(batcher.submit(i)) for i in range(1, 6)]
        await asyncio.sleep(0.05)
        assert batcher.queued == 5
        model.gate.set()
        return await asyncio.gather(first, *rest)

    results = asyncio.run(_with_batcher(model, BatchOptions(max_batch_size=8, batch_timeout_ms=1), body))
    assert results == [0, 2, 4, 6, 8, 10]
    assert model.batches == [[0], [1, 2, 3, 4, 5]]


def test_a_failing_batch_fails_its_items_and_the_batcher_keeps_serving():
    def model(items):
        if -1 in items:
            raise RuntimeError("model exploded")
        return [x + 1 for x in items]

    async def body(batcher):
        with pytest.raises(RuntimeError, match="model exploded"):
            await batcher.submit(-1)
        return await batcher.submit(1)

    assert asyncio.run(_with_batcher(model, BatchOptions(batch_timeout_ms=0), body)) == 2


def test_wrong_number_of_results_is_an_error():
    async def body(batcher):
        with pytest.raises(RuntimeError, match="1 results for 2 items"):
            await asyncio.gather(batcher.submit(1), batcher.submit(2))
        return True

    assert asyncio.run(_with_batcher(lambda items: items[:1], BatchOptions(batch_timeout_ms=20), body))


def test_full_queue_is_refused_at_once():
    model = RecordingModel()
    model.gate.clear()

    async def body(batcher):
        running = asyncio.ensure_future(batcher.submit(0))
        await asyncio.sleep(0.05)  # [0] is in the worker; the queue is empty again
        waiting = [asyncio.ensure_future(batcher.submit(i)) for i in (1, 2)]
        await asyncio.sleep(0)
        with pytest.raises(QueueFullError, match="2 images are already waiting"):
            await batcher.submit(3)
        model.gate.set()
        return await asyncio.gather(running, *waiting)

    options = BatchOptions(max_batch_size=1, batch_timeout_ms=0, max_queue_size=2)
    assert asyncio.run(_with_batcher(model, options, body)) == [0, 2, 4]


def test_cancelled_items_are_skipped():
    model = RecordingModel()
    model.gate.clear()

    async def body(batcher):
        running = asyncio.ensure_future(batcher.submit(0))
        await asyncio.sleep(0.05)
        abandoned = asyncio.ensure_future(batcher.submit(1))
        kept = asyncio.ensure_future(batcher.submit(2))
        await asyncio.sleep(0)
        abandoned.cancel()  # as when a request is given up: its image must not reach the model
        model.gate.set()
        return await asyncio.gather(running, kept)

    assert asyncio.run(_with_batcher(model, BatchOptions(max_batch_size=4, batch_timeout_ms=0), body)) == [0, 4]
    assert model.batches == [[0], [2]]


def test_stop_fails_waiting_items_and_refuses_new_ones():
    model = RecordingModel()
    model.gate.clear()

    async def scenario():
        batcher = DynamicBatcher(model, options=BatchOptions(max_batch_size=1, batch_timeout_ms=0))
        with pytest.raises(BatcherClosedError):
            await batcher.submit(1)
        await batcher.start()
        assert batcher.running
        running = asyncio.ensure_future(batcher.submit(0))
        await asyncio.sleep(0.05)
        waiting = asyncio.ensure_future(batcher.submit(1))
        await asyncio.sleep(0)
        stopping = asyncio.ensure_future(batcher.stop())
        await asyncio.sleep(0.05)
        model.gate.set()  # let the worker thread finish so that stop() can join it
        await stopping
        assert not batcher.running
        with pytest.raises(BatcherClosedError):
            await batcher.submit(2)
        return await asyncio.gather(running, waiting, return_exceptions=True)

    outcomes = asyncio.run(scenario())
    assert all(isinstance(o, BatcherClosedError) for o in outcomes)


def test_call_runs_on_the_worker_thread():
    model = RecordingModel()

    async def body(batcher):
        name = await batcher.call(lambda: threading.current_thread().name)
        await batcher.submit(1)
        return name

    name = asyncio.run(_with_batcher(model, BatchOptions(), body))
    assert name.startswith("textspotter-model") and model.threads == {name}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_batch_size": 0}, "max_batch_size"),
        ({"batch_timeout_ms": -1}, "batch_timeout_ms"),
        ({"max_queue_size": 0}, "max_queue_size"),
    ],
)
def test_batch_options_are_checked(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BatchOptions(**kwargs)


@pytest.mark.parametrize("fail", [False, True])
def test_an_idle_batcher_holds_no_item_of_its_last_batch(fail):
    # Items are page images: an idle server must not keep its last batch's pages alive until the next request.

    def model(items):
        if fail:
            raise RuntimeError("model failed")
        return [int(item.sum()) for item in items]

    async def body(batcher):
        page = np.ones((64, 64, 3), dtype=np.uint8)
        alive = weakref.ref(page)
        task = asyncio.ensure_future(batcher.submit(page))
        del page
        with contextlib.suppress(RuntimeError):
            await task
        del task
        await asyncio.sleep(0.05)  # the collector is back waiting for the next item
        if fail:
            # The exception and the frames in its traceback (which hold the page) form a cycle with the future;
            # the garbage collector frees it, as long as the batcher holds none of them.
            gc.collect()
        return alive() is None

    assert asyncio.run(_with_batcher(model, BatchOptions(batch_timeout_ms=1), body))
