"""A clean interpreter exit next to the Temporal SDK's native threads (no "Fatal Python error" at exit).

The problem (reproduced here: ``kalshi-trader status`` aborted with exit status 134 in 3 runs of 40 on this
machine, a bare ``Client.connect`` + one query + exit in 13 of 210; with this guard 0 of 60 and 0 of 150, and 0 of 40
with torch imported and run as well): the Temporal SDK's Rust core completes every
RPC on a Tokio blocking-pool thread that attaches to the interpreter (``PyGILState_Ensure``) to hand the result to
asyncio with ``loop.call_soon_threadsafe``. That call writes the loop's wake-up byte with ``socket.send``, which
releases the GIL; the main thread wakes, finishes the command and starts ``Py_FinalizeEx`` before the Tokio thread
has re-taken the GIL to leave. A thread that tries to take the GIL during finalization is ended with
``pthread_exit``; the forced unwind runs PyO3's guard, which calls ``PyGILState_Release`` on a thread state that is
no longer current, and CPython aborts: ``Fatal Python error: PyGILState_Release: thread state ... must be current
when releasing / Python runtime state: finalizing``. A core dump of the abort shows exactly that stack
(``pyo3_async_runtimes::generic::future_into_py_with_locals`` on a ``tokio::runtime::blocking`` thread). Upstream:
temporalio/sdk-python#300 (open), PyO3/pyo3-async-runtimes#40 (no shutdown hook); the workaround others ship is
``os._exit``, which skips every atexit handler and buffered flush, so it is not used here.

The fix: an :mod:`atexit` handler (atexit handlers run before CPython marks the runtime as finalizing) that waits,
with the GIL released, until no thread outside the :mod:`threading` module holds an interpreter thread state, i.e.
until every native thread that entered Python (a Tokio thread handing over a result, or one about to) has left it.
It returns at once in the common case, and gives up after ``timeout_s`` (the exit then proceeds as before: never a
hang at exit). torch/OpenMP and gRPC threads never hold a thread state and are not waited for.
"""

from __future__ import annotations

import atexit
import ctypes
import logging
import threading
import time

__all__ = ["foreign_thread_states", "install", "wait_for_foreign_threads"]

log = logging.getLogger(__name__)

_api = ctypes.pythonapi
_api.PyInterpreterState_Main.restype = ctypes.c_void_p
_api.PyInterpreterState_Main.argtypes = []
_api.PyInterpreterState_ThreadHead.restype = ctypes.c_void_p
_api.PyInterpreterState_ThreadHead.argtypes = [ctypes.c_void_p]
_api.PyThreadState_Next.restype = ctypes.c_void_p
_api.PyThreadState_Next.argtypes = [ctypes.c_void_p]

_installed = False
_lock = threading.Lock()


def foreign_thread_states() -> int:
    """How many threads hold a thread state of the main interpreter without being :mod:`threading` threads.

    Counted with CPython's thread-state iteration API (``PyInterpreterState_ThreadHead`` / ``PyThreadState_Next``,
    "Advanced Debugger Support" in the C API docs) while holding the GIL (``ctypes.pythonapi`` keeps it), minus the
    live non-dummy :func:`threading.enumerate` threads (each of which has one). A native thread inside
    ``PyGILState_Ensure`` ... ``PyGILState_Release`` has one, whether it runs Python code or waits for the GIL.

    Returns:
        The count, >= 0 (0 also when only threading's bookkeeping lags behind a thread that is ending).
    """
    states = 0
    ts = _api.PyInterpreterState_ThreadHead(_api.PyInterpreterState_Main())
    while ts:
        states += 1
        ts = _api.PyThreadState_Next(ts)
    known = sum(1 for t in threading.enumerate() if not isinstance(t, threading._DummyThread))
    return max(states - known, 0)


def wait_for_foreign_threads(timeout_s: float = 1.0, poll_s: float = 0.001) -> bool:
    """Wait (sleeping, GIL released) until :func:`foreign_thread_states` is 0, at most ``timeout_s`` seconds.

    Args:
        timeout_s: the longest wait, seconds.
        poll_s: the sleep between checks, seconds.

    Returns:
        True when no foreign thread holds a thread state any more; False after the timeout (logged).
    """
    deadline = time.monotonic() + timeout_s
    while foreign_thread_states():
        if time.monotonic() >= deadline:
            log.warning(
                "exit: %d native thread(s) still inside the interpreter after %.1f s",
                foreign_thread_states(),
                timeout_s,
            )
            return False
        time.sleep(poll_s)
    return True


def install(timeout_s: float = 1.0) -> None:
    """Register :func:`wait_for_foreign_threads` to run at interpreter exit (idempotent).

    Called before a Temporal client exists: by :func:`workers.worker.connect`, the ``bench`` package and the tests.

    Args:
        timeout_s: the longest wait at exit, seconds.
    """
    global _installed
    with _lock:
        if not _installed:
            atexit.register(wait_for_foreign_threads, timeout_s)
            _installed = True
