"""A pool of fetch workers that stops cleanly: on Ctrl-C, a fatal error, or the caller giving up."""

import concurrent.futures
from collections.abc import Callable, Generator
from typing import TypeVar

from reporter.fetch.state import FetchState

STOP_GRACE = 2.0  # seconds Ctrl-C waits for requests already on the wire

T = TypeVar("T")


def in_parallel(
    work: Callable[[int], T], indexes: list[int], workers: int, state: FetchState
) -> Generator[tuple[int, T], None, None]:
    """(index, ``work(index)``) as each finishes, from a pool of ``workers`` threads.

    When the caller stops (Ctrl-C, an exception from a worker, or closing the generator),
    ``state.stop`` is set so that workers stop between attempts, the queue is dropped, and
    requests already on the wire get :data:`STOP_GRACE` seconds; then the exception goes on.
    """
    executor = concurrent.futures.ThreadPoolExecutor(
        max_workers=workers, thread_name_prefix="reporter-fetch"
    )
    futures = {executor.submit(work, index): index for index in indexes}
    try:
        for future in concurrent.futures.as_completed(futures):
            yield futures[future], future.result()
    except BaseException:
        state.stop.set()
        executor.shutdown(wait=False, cancel_futures=True)
        running = [future for future in futures if not future.cancelled()]
        concurrent.futures.wait(running, timeout=STOP_GRACE)
        raise
    executor.shutdown()
