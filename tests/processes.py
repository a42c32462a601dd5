"""Child processes that a test interrupts with Ctrl-C."""

import contextlib
import signal
from collections.abc import Iterator


@contextlib.contextmanager
def sigint_reaches_children() -> Iterator[None]:
    """Start children inside this block for them to take SIGINT as KeyboardInterrupt.

    A child inherits an ignored SIGINT (as under ``nohup``, or when the suite runs as a
    background job of a shell without job control), and Python then installs no
    KeyboardInterrupt handler in it: the signal would be lost. Only the main thread may set
    a handler, which is where pytest (and each xdist worker) runs the tests.
    """
    previous = signal.getsignal(signal.SIGINT)
    if previous == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        if previous == signal.SIG_IGN:
            signal.signal(signal.SIGINT, previous)
