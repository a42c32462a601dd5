"""Pausing Python's cyclic garbage collector around work that builds millions of objects."""

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused(collect_after: bool = False) -> Iterator[None]:
    """Pause the cyclic garbage collector for the block.

    The collector walks every live container object each time their number grows by a quarter:
    with millions of decoded payload objects (building the model) or layout boxes (WeasyPrint),
    that was a third of the time. ``collect_after`` runs one collection at the end, for work
    that does leave reference cycles behind (WeasyPrint's boxes point to their parents).
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
        if collect_after:
            gc.collect()
