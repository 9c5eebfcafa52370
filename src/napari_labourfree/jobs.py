"""The one job protocol shared by the GUI and the command line.

A job is a generator that yields :class:`Progress` events and *returns* its result
(``return value`` inside the generator). napari runs it with ``thread_worker`` (which
forwards the yields and calls ``quit()`` to cancel between yields); the CLI runs it with
:func:`run_job`, a terminal progress bar and Ctrl-C.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


@dataclass
class Progress:
    """One progress event: ``step`` of ``total`` done, with optional extras."""

    step: int
    total: int
    message: str = ""
    losses: dict[str, float] = field(default_factory=dict)
    preview: np.ndarray | None = None


Job = Generator[Progress, None, T]


def run_job(job: Job[T], on_progress: Callable[[Progress], Any] | None = None) -> T:
    """Drive a job to completion, passing each event to ``on_progress``; return its result."""
    while True:
        try:
            event = next(job)
        except StopIteration as stop:
            return stop.value
        if on_progress is not None:
            on_progress(event)


def relay(job: Job[T], relabel: Callable[[Progress], Progress]) -> Job[T]:
    """Run ``job`` inside another job, passing each event through ``relabel``."""
    while True:
        try:
            event = next(job)
        except StopIteration as stop:
            return stop.value
        yield relabel(event)
