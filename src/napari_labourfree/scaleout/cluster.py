"""A dask.distributed client: a local cluster of worker processes, or an existing scheduler.

Each worker process runs one task at a time (one thread), so on a machine of N cores
``workers=N`` keeps every core busy without the workers' torch threads fighting.
"""

from __future__ import annotations

import contextlib
import logging
import math

CONNECT_TIMEOUT = "15s"  # how long to try reaching a scheduler before saying it is not there


def check_workers(workers) -> int:
    """A worker count as typed by a user: a whole number >= 1."""
    if isinstance(workers, bool) or not isinstance(workers, (int, float)) or \
            not math.isfinite(workers) or workers != int(workers) or workers < 1:
        raise ValueError(f"workers must be a whole number of at least 1, not {workers!r}")
    return int(workers)


@contextlib.contextmanager
def open_client(workers: int | None = None, scheduler: str | None = None):
    """Yield a ``distributed.Client``: on a new LocalCluster of ``workers`` processes, or
    connected to the scheduler at ``scheduler`` (e.g. ``tcp://10.0.0.5:8786``, as printed
    by ``dask scheduler``, dask-jobqueue or a Kubernetes deployment). A local cluster is
    shut down on exit; a remote one is left running."""
    from distributed import Client, LocalCluster

    if workers is not None and scheduler:
        raise ValueError("give either a number of local workers or a scheduler address, "
                         "not both")
    if scheduler:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as err:
            raise ConnectionError(f"could not reach the dask scheduler at {scheduler}: "
                                  f"{err}") from None
        with client:
            yield client
        return
    n = check_workers(workers if workers is not None else 1)
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR)
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()


def new_topic(kind: str) -> str:
    """A name under which this run's tasks report that they started."""
    import uuid

    return f"labourfree-{kind}-{uuid.uuid4().hex[:12]}"


def report_start(topic: str, item) -> None:
    """Worker side: tell the scheduler this task is starting on ``item``."""
    from distributed import get_worker

    get_worker().log_event(topic, item)


def retried(client, topic: str) -> list:
    """The items whose task started more than once: its worker died under it (killed,
    out of memory, node lost) and the scheduler gave it to another worker."""
    from collections import Counter

    starts = Counter(message for _, message in client.get_events(topic))
    return sorted(item for item, n in starts.items() if n > 1)


def wait_idle(client, prefix: str, timeout: float = 600.0) -> bool:
    """Wait until no worker runs a task whose key starts with ``prefix`` (cancelled tasks
    run on until they return: Python threads cannot be stopped from outside). Other
    users' tasks on a shared cluster do not count. True when none is left."""
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not any(client.run(_executing, prefix).values()):
            return True
        time.sleep(0.2)
    return False


def _executing(prefix: str, dask_worker=None) -> int:
    return sum(str(ts.key).startswith(prefix) for ts in dask_worker.state.executing)
