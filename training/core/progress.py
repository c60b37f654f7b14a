"""Progress reporting: the callback type the long jobs take, and a stderr bar for the CLI."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm import tqdm

#: Called with the fraction done, in [0, 1].
Progress = Callable[[float], None]


@contextmanager
def stderr_progress(description: str = "导入聊天记录") -> Iterator[Progress]:
    """A progress callback drawing a tqdm bar on stderr, for the CLI."""
    bar = tqdm(total=100, desc=description, file=sys.stderr, unit="%",
               bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")

    def update(fraction: float) -> None:
        target = min(100, round(fraction * 100))
        if target > bar.n:
            bar.update(target - bar.n)

    try:
        yield update
    finally:
        bar.close()
