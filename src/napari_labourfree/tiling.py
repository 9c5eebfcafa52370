"""Apply a fully convolutional network to an image of any size, tile by tile.

Tiles overlap and are blended with weights that fall linearly to the tile edges, so there
are no seams; memory is bounded by the tile size (plus two float32 images of the input's
size for the blend). Images smaller than a tile are padded (reflect) instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from .jobs import Job, Progress


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets that cover ``length`` with tiles of ``tile`` px overlapping >= ``overlap``."""
    if length <= tile:
        return [0]
    step = tile - overlap
    n = math.ceil((length - tile) / step) + 1
    return [round(i * (length - tile) / (n - 1)) for i in range(n)]


def _ramp(n: int, overlap: int) -> np.ndarray:
    if overlap <= 0:
        return np.ones(n, np.float32)
    x = np.arange(n, dtype=np.float32)
    edge = np.minimum(x + 0.5, n - x - 0.5) / overlap
    return np.clip(edge, 1 / overlap, 1).astype(np.float32)


def tiled_apply(
    fn: Callable[[torch.Tensor], torch.Tensor],
    image: np.ndarray,
    *,
    tile: int = 512,
    overlap: int = 64,
    multiple: int = 16,
    batch_size: int = 4,
    device: torch.device | str = "cpu",
    message: str = "tiles",
) -> Job[np.ndarray]:
    """Run ``fn`` ((B, C_in, t, t) -> (B, C, t, t) on ``device``) over a float32 image:
    (H, W), or channel-first (C_in, H, W) for a colour network.

    Yields progress per batch of tiles; returns the blended float32 output: (H, W) when
    ``fn`` gives one channel, else (C, H, W).
    ``multiple``: sizes the network needs to be divisible by (2 ** depth).
    """
    if tile % multiple or tile <= 2 * overlap or tile < multiple or overlap < 0:
        raise ValueError(f"tile {tile} must be a multiple of {multiple} and > 2 x overlap, "
                         f"and overlap ({overlap}) must not be negative")
    image = np.asarray(image, np.float32)
    if image.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W) or channel-first (C, H, W), not shape "
                         f"{image.shape}")
    image = image[None] if image.ndim == 2 else image
    h, w = image.shape[-2:]
    # Small or odd-sized images: pad (reflect) up to a size the network accepts.
    ph = max(tile, h) if h >= tile else _round_up(h, multiple)
    pw = max(tile, w) if w >= tile else _round_up(w, multiple)
    if (ph, pw) != (h, w):
        mode = "reflect" if min(h, w) > 1 else "edge"
        padded = np.pad(image, ((0, 0), (0, ph - h), (0, pw - w)), mode=mode)
    else:
        padded = image
    th, tw = min(tile, ph), min(tile, pw)
    ys, xs = tile_starts(ph, th, overlap), tile_starts(pw, tw, overlap)
    weight = np.outer(_ramp(th, overlap if len(ys) > 1 else 0),
                      _ramp(tw, overlap if len(xs) > 1 else 0))
    out = None
    norm = np.zeros((ph, pw), np.float32)
    boxes = [(y, x) for y in ys for x in xs]
    device = torch.device(device)
    for start in range(0, len(boxes), batch_size):
        chunk = boxes[start:start + batch_size]
        batch = np.stack([padded[:, y:y + th, x:x + tw] for y, x in chunk])
        with torch.inference_mode():
            result = fn(torch.from_numpy(batch).to(device)).float().cpu().numpy()
        if out is None:
            out = np.zeros((result.shape[1], ph, pw), np.float32)
        for (y, x), r in zip(chunk, result):
            out[:, y:y + th, x:x + tw] += r * weight
            norm[y:y + th, x:x + tw] += weight
        yield Progress(min(start + batch_size, len(boxes)), len(boxes), message)
    out = np.divide(out, norm, out=out)[:, :h, :w]  # in place: no second copy of the output
    return out[0] if len(out) == 1 else out


def _round_up(n: int, multiple: int) -> int:
    return max(multiple, math.ceil(n / multiple) * multiple)
