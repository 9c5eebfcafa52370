"""`simulate_dataset` on a dask.distributed cluster: one task per structure.

Structure i grows from ``structure_seed(seed, i)`` alone, as in the in-process run, so
the data set is the same whichever worker grows which structure.
"""

from __future__ import annotations

from pathlib import Path

from ..jobs import Job, Progress, run_job
from .cluster import new_topic, report_start, retried, wait_idle


def grow_one_task(params_dict: dict, seed: int, index: int, out: Path, device: str,
                  compile, snapshot_every: int, topic: str) -> dict:
    """Worker side: grow structure ``index``, write its files, return its meta entry."""
    report_start(topic, index)
    from ..devices import pick_device
    from ..phasefield.dataset import structure_seed, write_structure
    from ..phasefield.params import GrowthParams
    from ..phasefield.solver import grow, initial_labels

    params = GrowthParams(**params_dict)
    labels0 = initial_labels(params, [structure_seed(seed, index)])
    result = run_job(grow(labels0, params, pick_device(device), compile, snapshot_every))
    return write_structure(out, index, result, 0, labels0, params)


def simulate_dataset_on(client, params, count: int, out: Path, *, seed: int = 0,
                        device: str = "auto", compile: bool | None = None,
                        snapshot_every: int = 0, overwrite: bool = False) -> Job[dict]:
    """Job: :func:`phasefield.dataset.simulate_dataset` with one task per structure on
    ``client``; meta.json is rewritten as structures finish (in index order) and also
    lists, under ``retried``, structures whose worker died and that were grown again."""
    from ..io.folders import locked
    from ..phasefield.dataset import open_dataset

    out, lock = open_dataset(params, count, Path(out), overwrite)
    return locked(_job(client, params, count, out.absolute(), seed, str(device), compile,
                       snapshot_every), lock)


def _job(client, params, count, out, seed, device, compile, snapshot_every):
    import json

    from distributed import as_completed

    from ..io.atomic import write_text
    from ..phasefield.dataset import new_meta, record

    meta = new_meta(params, count, seed, f"{device} on dask", snapshot_every)
    write_text(out / "meta.json", json.dumps(meta, indent=2))
    topic = new_topic("simulate")
    futures = [client.submit(grow_one_task, params.to_dict(), seed, i, out, device, compile,
                             snapshot_every, topic, key=f"{topic}-{i}", pure=False)
               for i in range(count)]
    finished, failed = set(), []
    try:
        for n, future in enumerate(as_completed(futures), 1):
            index = int(future.key.rsplit("-", 1)[1])
            try:
                entry = future.result()
            except Exception as err:  # its workers kept dying, or the structure failed
                if isinstance(err, OSError):
                    raise  # a full disk stops the run
                failed.append(index)
                meta.setdefault("failed", []).append(
                    {"index": index, "error": f"{type(err).__name__}: {err}"})
                yield Progress(n, count, f"structure {index + 1} failed")
                continue
            finished.add(entry["index"])
            record(meta, [entry], out)
            yield Progress(n, count, f"structure {entry['index'] + 1}: {n}/{count} done")
        again = [i for i in retried(client, topic) if i in finished]
    finally:
        if len(finished) + len(failed) < count:
            client.cancel([f for i, f in enumerate(futures) if i not in finished])
            wait_idle(client, topic)
        _remove_unrecorded(out, finished)
    if again or failed:
        if again:
            meta["retried"] = again
        write_text(out / "meta.json", json.dumps(meta, indent=2))
    return meta


def _remove_unrecorded(out: Path, finished: set[int]) -> None:
    """Files of structures meta.json does not list (a cancelled task may still have
    written them, or a stopped worker part of them), and temporary files, so the folder
    matches meta.json."""
    import re

    for sub in ("images", "masks", "labels", "snapshots"):
        for path in (out / sub).glob("*structure_*"):
            index = re.match(r"\.?structure_(\d+)", path.name)
            if path.name.startswith(".") or index is None or int(index[1]) not in finished:
                path.unlink(missing_ok=True)
