"""TIFF writing that never leaves half-written files behind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from .atomic import atomic_write


def write_tiff(path: Path, data: np.ndarray, **kwargs) -> None:
    """Write one (zlib-compressed) TIFF atomically; extra kwargs go to tifffile.imwrite."""
    kwargs.setdefault("compression", "zlib")
    atomic_write(Path(path), lambda tmp: tifffile.imwrite(tmp, data, **kwargs))
