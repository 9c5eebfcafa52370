"""TIFF writing that never leaves half-written files behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import tifffile


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it over.

    A crash, Ctrl-C or full disk leaves either the old file or the complete new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_tiff(path: Path, data: np.ndarray, **kwargs) -> None:
    """Write one (zlib-compressed) TIFF atomically; extra kwargs go to tifffile.imwrite."""
    kwargs.setdefault("compression", "zlib")
    atomic_write(Path(path), lambda tmp: tifffile.imwrite(tmp, data, **kwargs))


def write_text(path: Path, text: str) -> None:
    """Write a text file atomically."""
    atomic_write(Path(path), lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
