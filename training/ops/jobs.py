"""Long tasks (fine-tuning, cache warm-up) run in a background thread, one per name at a time.

The registry is process-wide: every browser session of the app sees the same jobs, so two
trainers cannot start two fine-tuning runs on a 2-core machine at once. Pages poll ``status``.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from training.auth.permissions import PermissionDenied
from training.core.errors import UserError

#: Progress callback handed to a job: (fraction done in [0, 1], message).
Progress = Callable[[float, str], None]


class JobBusy(UserError):
    """A job of the same name is still running."""


@dataclass(frozen=True)
class JobStatus:
    """A snapshot of one job: how far it is, and how it ended."""

    name: str
    run_id: int
    started_at: float
    fraction: float = 0.0
    message: str = ""
    finished_at: float | None = None
    error: str | None = None
    result: Any = None

    @property
    def running(self) -> bool:
        """True until the job's function returned or raised."""
        return self.finished_at is None

    @property
    def succeeded(self) -> bool:
        """True once the job finished without an error."""
        return self.finished_at is not None and self.error is None


_lock = threading.Lock()
_jobs: dict[str, JobStatus] = {}
_threads: dict[str, threading.Thread] = {}
_run_ids = itertools.count(1)


def _update(name: str, run_id: int, **changes: Any) -> None:
    with _lock:
        current = _jobs.get(name)
        if current is not None and current.run_id == run_id:
            _jobs[name] = replace(current, **changes)


def _run(name: str, run_id: int, fn: Callable[[Progress], Any]) -> None:
    def progress(fraction: float, message: str) -> None:
        _update(name, run_id, fraction=min(max(float(fraction), 0.0), 1.0), message=message)

    try:
        result = fn(progress)
    except (UserError, PermissionDenied) as exc:
        _update(name, run_id, error=str(exc), finished_at=time.time())
    except Exception as exc:  # a background failure must reach the page, not vanish
        traceback.print_exc(file=sys.stderr)
        _update(name, run_id, error=f"{type(exc).__name__}: {exc}", finished_at=time.time())
    else:
        _update(name, run_id, fraction=1.0, result=result, finished_at=time.time())


def start(name: str, fn: Callable[[Progress], Any]) -> JobStatus:
    """Run ``fn(progress)`` in a daemon thread under ``name``; refuse while one of that name runs.

    ``fn`` must open its own database session: sessions are not shared across threads.
    """
    with _lock:
        current = _jobs.get(name)
        if current is not None and current.running:
            raise JobBusy("已有同类任务正在运行，请等它完成后再试。")
        status = JobStatus(name=name, run_id=next(_run_ids), started_at=time.time())
        _jobs[name] = status
        thread = threading.Thread(target=_run, args=(name, status.run_id, fn), name=f"job-{name}",
                                  daemon=True)
        _threads[name] = thread
    thread.start()
    return status


def status(name: str) -> JobStatus | None:
    """The latest job of ``name`` (running or finished), or None if none ran in this process."""
    with _lock:
        return _jobs.get(name)


def wait(name: str, timeout: float | None = None) -> JobStatus | None:
    """Block until the latest job of ``name`` finished (or ``timeout`` seconds passed)."""
    with _lock:
        thread = _threads.get(name)
    if thread is not None:
        thread.join(timeout)
    return status(name)


def forget(name: str) -> None:
    """Drop a finished job's record (a running one is kept)."""
    with _lock:
        current = _jobs.get(name)
        if current is not None and not current.running:
            del _jobs[name]
            _threads.pop(name, None)
