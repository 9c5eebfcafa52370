"""`segment_files` on a dask.distributed cluster: one task per image.

Every worker process loads the model once (the first time it gets an image) and keeps it;
each task writes its image's outputs exactly as the in-process run does, so the files are
the same. A worker that dies mid-image costs only that image's time: the scheduler gives
the task to another worker, which writes the whole set again.
"""

from __future__ import annotations

import errno
import functools
from pathlib import Path

from ..jobs import Job, Progress, run_job
from ..segmenter.batch import outputs_of
from .cluster import new_topic, report_start, retried, wait_idle


@functools.lru_cache(maxsize=2)
def worker_segmenter(weights: str, device: str):
    """The model, loaded once per worker process (and per weights file and device).
    'default' is the built-in model as installed on the worker, wherever that is."""
    from ..devices import pick_device
    from ..segmenter.default import resolve_weights
    from ..segmenter.model import Segmenter

    return Segmenter.load(resolve_weights(weights), pick_device(device))


def segment_one_task(weights: str, device: str, path: Path, out: Path, index: int,
                     total: int, kwargs: dict, topic: str):
    """Worker side: ("done", row) or ("failed", (name, message)) for an image of its own."""
    from ..segmenter.batch import segment_one

    report_start(topic, index)
    model = worker_segmenter(weights, device)
    try:
        return "done", run_job(segment_one(model, path, out, index, total, **kwargs))
    except (ValueError, OSError) as err:
        if isinstance(err, OSError) and err.errno in (errno.ENOSPC,
                                                      getattr(errno, "EDQUOT", -1)):
            raise  # a full disk stops the run, as in-process
        return "failed", (path.name, str(err))


def segment_files_on(client, weights: Path | str, device: str, paths: list[Path], out: Path, *,
                     options=None, pixel_size=None, include_border: bool = False,
                     save_probability: bool = False, weights_name: str = "",
                     chunk: int | None = None) -> Job[tuple[list, list, list]]:
    """Job: :func:`segmenter.batch.segment_files` with one task per image on ``client``.

    Returns ``(rows, failures, retried)``: rows and failures as the in-process job (in the
    order of ``paths``), and the names of images whose worker died under them and that
    were done again elsewhere. Progress follows finished images. Closing the job (Ctrl-C,
    cancel) cancels what has not finished; image sets left incomplete by a stopped worker
    are removed, complete ones kept.
    """
    from ..io.folders import FolderLock, check_not_overwriting, check_unique_stems, locked

    out, paths = Path(out), [Path(p) for p in paths]
    check_unique_stems(paths)
    check_not_overwriting([out / n for p in paths for n in outputs_of(p, True, chunk)], paths)
    out.mkdir(parents=True, exist_ok=True)
    lock = FolderLock(out, "segment")
    kwargs = {"options": options, "pixel_size": pixel_size, "include_border": include_border,
              "save_probability": save_probability, "weights_name": weights_name,
              "chunk": chunk}
    # the built-in model by name: a remote worker has it at its own install path
    weights = "default" if _is_builtin(weights) else str(Path(weights).absolute())
    return locked(_job(client, weights, str(device), paths, out, kwargs, chunk), lock)


def _is_builtin(weights) -> bool:
    from ..segmenter.default import resolve_weights

    try:
        return str(weights) == "default" or Path(weights).resolve() == \
            resolve_weights("default").resolve()
    except (FileNotFoundError, ValueError):
        return False


def _job(client, weights, device, paths, out, kwargs, chunk):
    from distributed import as_completed

    # Absolute paths: a worker may run in another folder (or on another machine that
    # mounts the same file system).
    topic = new_topic("segment")
    futures = [client.submit(segment_one_task, weights, device, p.absolute(), out.absolute(),
                             i, len(paths), {**kwargs, "shown_path": str(p)}, topic,
                             key=f"{topic}-{i}", pure=False)
               for i, p in enumerate(paths)]
    index = {f.key: i for i, f in enumerate(futures)}
    done: dict[int, tuple] = {}
    try:
        for n, future in enumerate(as_completed(futures), 1):
            i = index[future.key]
            try:
                done[i] = future.result()
            except Exception as err:  # the worker died too often, or worse
                if isinstance(err, OSError):
                    raise
                done[i] = "failed", (paths[i].name, _describe(err))
            yield Progress(n, len(paths), f"image {n}/{len(paths)}: {paths[i].name}")
        again = retried(client, topic)
    finally:
        unfinished = [i for i in range(len(paths)) if i not in done]
        if unfinished:
            client.cancel([futures[i] for i in unfinished])
            wait_idle(client, topic)  # a cancelled task runs on until its image is written
        sets = [outputs_of(p, kwargs["save_probability"], chunk) for p in paths]
        # incomplete sets of what did not finish; temporary files of everything (a worker
        # that died under an image left them, even when another then did it)
        remove_incomplete(out, [sets[i] for i in unfinished])
        remove_temporary(out, sets)
    rows = [done[i][1] for i in sorted(done) if done[i][0] == "done"]
    failures = [done[i][1] for i in sorted(done) if done[i][0] == "failed"]
    return rows, failures, [paths[i].name for i in again if done[i][0] == "done"]


def remove_incomplete(out: Path, sets: list[list[str]]) -> None:
    """Remove output sets that a stopped worker left part-written; a set whose files all
    exist is complete (each file is renamed into place)."""
    import shutil

    for names in sets:
        present = [out / n for n in names if (out / n).exists()]
        if len(present) < len(names):
            for path in present:
                shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)


def remove_temporary(out: Path, sets: list[list[str]]) -> None:
    """Remove the temporary files (and window-by-window work folders) of these outputs."""
    import glob
    import re
    import shutil

    for names in sets:
        for name in names:
            for tmp in out.glob(f".{glob.escape(name)}.*.part"):
                tmp.unlink(missing_ok=True)
        stem = names[0].rsplit("_boundaries.", 1)[0]
        for work in out.glob(f".{glob.escape(stem)}-*"):
            if work.is_dir() and re.fullmatch(r"\w{8}", work.name[len(stem) + 2:]):  # mkdtemp
                shutil.rmtree(work, ignore_errors=True)


def _describe(err: BaseException) -> str:
    from distributed.scheduler import KilledWorker

    if isinstance(err, KilledWorker):
        return ("the workers running it kept dying (out of memory?); it was tried on "
                "several workers")
    return f"{type(err).__name__}: {err}"
