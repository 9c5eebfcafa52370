"""Output folders: made ready, kept apart from the inputs, and locked while a run writes."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path

SUBDIRS = ("images", "masks", "labels", "snapshots")
LOCK_NAME = ".labourfree.lock"


class FolderBusyError(FileExistsError):
    """Another run is writing into the output folder."""


def prepare_output_dir(out: Path, overwrite: bool = False, subdirs=SUBDIRS,
                       prefix: str = "structure_") -> Path:
    """Make ``out`` ready; refuse a non-empty folder unless ``overwrite``.

    With ``overwrite`` only what an earlier run wrote there (``prefix*.tif`` in ``subdirs``
    and meta.json) is removed; anything else the user keeps in the folder is left alone.
    The first three ``subdirs`` are created. A run's own lock file does not count.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output {out} exists and is not a folder")
    if out.exists() and any(p.name != LOCK_NAME for p in out.iterdir()):
        if not overwrite:
            raise ValueError(
                f"output folder {out} is not empty; choose a new folder or allow overwriting "
                "to replace an earlier run there")
        for sub in subdirs:
            for old in (out / sub).glob(f"{prefix}*.tif"):
                old.unlink()
        (out / "meta.json").unlink(missing_ok=True)
    for sub in subdirs[:3]:
        (out / sub).mkdir(parents=True, exist_ok=True)
    return out


def check_apart(out: Path, inputs, option: str = "output folder") -> None:
    """Refuse an output folder that is, lies inside or contains an input folder.

    Writing there would overwrite or delete the inputs, or make the next run read its own
    outputs as inputs. Input files (not folders) are refused when they lie in ``out``
    only if ``out`` would be cleared; see :func:`check_not_overwriting`.
    """
    out_r = Path(out).resolve()
    for given in inputs:
        path = Path(given)
        if not path.is_dir():
            continue
        in_r = path.resolve()
        if out_r == in_r:
            how = "is"
        elif in_r in out_r.parents:
            how = "lies inside"
        elif out_r in in_r.parents:
            how = "contains"
        else:
            continue
        raise ValueError(f"{option} {out} {how} the input folder {given}; choose a folder "
                         "apart from the inputs, so that nothing there is overwritten or "
                         "read back as input")


def check_not_overwriting(outputs, inputs) -> None:
    """Refuse when a planned output file is one of the input files."""
    given = {Path(p).resolve(): p for p in inputs}
    for out in outputs:
        if Path(out).resolve() in given:
            raise ValueError(f"output {out} would overwrite the input {given[Path(out).resolve()]}")


def check_unique_stems(paths) -> list[str]:
    """The inputs' names without suffix; ValueError when two share one (a.tif, a.png), as
    their outputs would overwrite each other."""
    stems = [Path(p).stem for p in paths]
    twice = sorted({s for s in stems if stems.count(s) > 1})
    if twice:
        raise ValueError(f"inputs share a name, their outputs would collide: {', '.join(twice)}")
    return stems


class FolderLock:
    """A lock file in an output folder, held while one run writes there.

    Created atomically (O_EXCL), it names the process, host and command that hold it. A
    lock left by a process that no longer runs on this host is taken over.
    """

    def __init__(self, folder: Path | str, command: str):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.path: Path | None = None
        lock = folder / LOCK_NAME
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                  "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                other = _read_holder(lock)
                if other is not None and _is_stale(other):
                    lock.unlink(missing_ok=True)
                    continue
                raise FolderBusyError(_busy_message(folder, lock, other)) from None
            with os.fdopen(fd, "w") as f:
                json.dump(holder, f)
            self.path = lock
            return
        raise FolderBusyError(_busy_message(folder, lock, _read_holder(lock)))

    def release(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
        return False

    def __del__(self):  # a job that was made but never run still lets go of its folder
        with contextlib.suppress(Exception):  # interpreter shutdown
            self.release()


def locked(job, lock: FolderLock):
    """Run ``job`` (a generator) and release ``lock`` when it ends, fails or is closed."""
    try:
        return (yield from job)
    finally:
        lock.release()


def _read_holder(lock: Path) -> dict | None:
    try:
        holder = json.loads(lock.read_text(encoding="utf-8"))
        return holder if isinstance(holder, dict) else None
    except (OSError, ValueError):
        return None


def _is_stale(holder: dict) -> bool:
    if holder.get("host") != socket.gethostname() or not isinstance(holder.get("pid"), int):
        return False  # another machine's run: we cannot tell, so it stays
    try:
        os.kill(holder["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


def _busy_message(folder: Path, lock: Path, holder: dict | None) -> str:
    who = ("another run" if holder is None else
           f"`labourfree {holder.get('command', '?')}` (pid {holder.get('pid', '?')} on "
           f"{holder.get('host', '?')}, since {holder.get('since', '?')})")
    return (f"output folder {folder} is in use by {who}; wait for it to finish, choose "
            f"another folder, or delete {lock} if that run is gone")
