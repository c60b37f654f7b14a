"""How many torch threads a training run gets: all cores when they are idle, else one."""

from __future__ import annotations

import os
import time


def busy_cores(sample_seconds: float = 1.0) -> float:
    """Cores other work keeps busy right now (from /proc/stat; 0 where it cannot be read).

    Measured because it matters: with two torch threads on two cores that something else also
    uses, OpenMP's spinning threads made a training step ~20x slower than one thread (a step of
    32 examples: 60 s vs 3 s at load average 11).
    """
    def ticks() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as fh:
            values = [int(v) for v in fh.readline().split()[1:]]
        return sum(values), values[3] + values[4]  # total, idle + iowait

    try:
        total0, idle0 = ticks()
        time.sleep(sample_seconds)
        total1, idle1 = ticks()
    except (OSError, ValueError, IndexError):
        return 0.0
    cores = os.cpu_count() or 1
    busy = 1.0 - (idle1 - idle0) / max(1, total1 - total0)
    return busy * cores


def training_threads(config_threads: int | None) -> int:
    """Torch threads for a run: the configured number, else all cores when idle, else one."""
    if config_threads:
        return config_threads
    cores = os.cpu_count() or 1
    return cores if busy_cores() < 0.5 else 1
