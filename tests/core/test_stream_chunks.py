"""chatkit.llm.stream_chunks: a sync-only langchain model is read in one worker thread for
the whole answer — no executor hop per chunk — with the chunks, errors and early close of
``model.astream``. Counts only (chunks, hops, threads), no timings."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk

from chatkit.llm import stream_chunks

ANSWER = " ".join(f"토큰{i}" for i in range(300))  # GenericFakeChatModel: a chunk per word


class CountingExecutor(ThreadPoolExecutor):
    """The loop's default executor, counting hand-offs (``to_thread``, ``run_in_executor``)."""

    def __init__(self) -> None:
        super().__init__(max_workers=4)
        self.submitted = 0

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


class TokenThreads(BaseCallbackHandler):
    """Records the thread each new token was produced in."""

    def __init__(self) -> None:
        self.threads: list[int] = []

    def on_llm_new_token(self, token, **kwargs) -> None:
        self.threads.append(threading.get_ident())


def fake_model(**kwargs) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter([AIMessage(content=ANSWER)]), **kwargs)


def run_counted(main):
    """Run ``main(executor)`` on a fresh loop whose default executor counts hand-offs."""

    async def wrapper():
        executor = CountingExecutor()
        asyncio.get_running_loop().set_default_executor(executor)
        return await main(executor)

    return asyncio.run(wrapper())


def test_a_sync_only_model_streams_in_one_thread_without_a_hop_per_chunk():
    recorder = TokenThreads()
    model = fake_model(callbacks=[recorder])

    async def main(executor):
        texts = [chunk.text async for chunk in stream_chunks(model, "안녕?")]
        return texts, executor.submitted, threading.get_ident()

    texts, hops, loop_thread = run_counted(main)
    assert "".join(texts) == ANSWER and len(texts) >= 500
    assert hops == 0, "no executor hop per chunk"
    assert len(set(recorder.threads)) == 1 and loop_thread not in recorder.threads
    assert len(recorder.threads) == len(texts)


def test_langchains_own_astream_takes_a_hop_per_chunk():
    """The baseline the test above improves on (so its count can fail)."""

    async def main(executor):
        texts = [chunk.text async for chunk in fake_model().astream("안녕?")]
        return len(texts), executor.submitted

    chunks, hops = run_counted(main)
    assert hops >= chunks


def test_the_chunks_are_the_models_own():
    sync = [chunk.text for chunk in fake_model().stream("안녕?")]

    async def main(executor):
        return [chunk async for chunk in stream_chunks(fake_model(), "안녕?")]

    chunks = run_counted(main)
    assert [c.text for c in chunks] == sync
    assert all(isinstance(c, AIMessageChunk) for c in chunks)


class Failing(GenericFakeChatModel):
    """Streams ``good`` chunks, then raises; records when its stream is closed."""

    good: int = 3
    closed: bool = False

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        try:
            for i in range(self.good):
                yield ChatGenerationChunk(message=AIMessageChunk(content=f"{i} "))
            raise RuntimeError("throttled mid-stream")
        finally:
            self.closed = True


def test_an_error_in_the_stream_reaches_the_consumer_after_the_good_chunks():
    model = Failing(messages=iter([]))

    async def main(executor):
        seen = []
        with pytest.raises(RuntimeError, match="throttled mid-stream"):
            async for chunk in stream_chunks(model, "안녕?"):
                seen.append(chunk.text)
        return seen

    assert run_counted(main) == ["0 ", "1 ", "2 "]
    assert model.closed


class Endless(GenericFakeChatModel):
    """Streams until closed; counts what it produced; each chunk waits for a permit."""

    produced: int = 0
    closed: bool = False
    permits: object = None

    def _stream(self, messages, stop=None, run_manager=None, **kwargs):
        try:
            while True:
                self.permits.acquire()
                self.produced += 1
                yield ChatGenerationChunk(message=AIMessageChunk(content="가"))
        finally:
            self.closed = True


def test_closing_early_stops_the_worker_after_the_chunk_it_is_reading():
    model = Endless(messages=iter([]), permits=threading.Semaphore(0))

    async def main(executor):
        chunks = stream_chunks(model, "안녕?")
        for _ in range(3):
            model.permits.release()
            await anext(chunks)
        await chunks.aclose()
        model.permits.release()  # the chunk the worker was waiting for
        workers = [t for t in threading.enumerate() if t.name == "chatkit-stream"]
        for worker in workers:
            await asyncio.to_thread(worker.join, 30)
        return workers

    workers = run_counted(main)
    assert workers and not any(w.is_alive() for w in workers)
    assert model.closed and model.produced == 4
