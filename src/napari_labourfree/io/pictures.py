"""Small PNG pictures for reports: an image with its predicted boundaries drawn on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .atomic import atomic_write


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Grey (or RGB) image -> uint8 by its 0.5/99.5 percentiles (for display only)."""
    image = np.asarray(image, np.float32)
    low, high = np.percentile(image, [0.5, 99.5])
    scaled = (image - low) / (high - low) if high > low else np.zeros_like(image)
    return (np.clip(scaled, 0, 1) * 255).astype(np.uint8)


def overlay(image: np.ndarray, boundaries: np.ndarray, colour=(255, 40, 40)) -> np.ndarray:
    """RGB uint8: the grey (or RGB) image with boundary pixels painted ``colour``."""
    shown = to_uint8(image)
    rgb = shown if shown.ndim == 3 else np.repeat(shown[..., None], 3, axis=-1)
    rgb[np.asarray(boundaries, bool)] = colour
    return rgb


PNG_SIDE = 1024  # px: pictures are shrunk to this longer side


def png_step(shape: tuple[int, ...], max_side: int = PNG_SIDE) -> int:
    """The stride that brings an image of ``shape`` (rows, columns, ...) to <= max_side."""
    return max(1, -(-max(shape[:2]) // max_side))


def write_png(path: Path | str, rgb_or_grey: np.ndarray, max_side: int = PNG_SIDE) -> None:
    """Write a PNG atomically, shrunk (by striding) so its longer side is <= max_side."""
    import imageio.v3 as iio

    data = np.asarray(rgb_or_grey)
    step = png_step(data.shape, max_side)
    data = data[::step, ::step]
    atomic_write(Path(path), lambda tmp: iio.imwrite(tmp, data, extension=".png"))
