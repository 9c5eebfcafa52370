"""Writing files so that a crash, Ctrl-C or full disk never leaves a half-written one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it over.

    A crash, Ctrl-C or full disk leaves either the old file or the complete new one. The
    new file gets the permissions an ordinary ``open()`` would give it (the old file's
    mode when it is replaced, else 0o666 less the umask), not mkstemp's private 0o600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError) and err.errno is not None:
            # name the file the user asked for, not the temporary one
            raise type(err)(err.errno, err.strerror, str(path)) from err
        raise


@contextlib.contextmanager
def all_or_none(paths):
    """Files that belong together (an image, its mask and labels): when anything inside
    the block fails or is interrupted, every one of ``paths`` is removed, so a partial set
    never stays behind."""
    try:
        yield
    except BaseException:
        for path in map(Path, paths):
            if path.is_dir():  # a zarr store
                import shutil

                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """Write a text file (UTF-8) atomically."""
    atomic_write(Path(path), lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    # Reading the umask without changing it: Linux reports it in /proc; elsewhere set and
    # restore it at once (umask has no read-only call).
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
