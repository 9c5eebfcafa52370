"""The scale at which to segment: estimate the grains' size, rescale to the model's range.

A network trained on grains of 15-150 px draws a boundary network of that size over
anything, so its own output at one scale cannot say whether the grains are larger. Real
grains measure the same (in the image's px) at every scale where they are resolved; a
network's invented structure scales with the image. The estimate is therefore taken at a
few scales, and the one that agrees with its neighbour wins.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

MIN_SIDE = 64  # px: smaller views are not looked at
# A diameter over a third of the image's side (the square root of its area) rests on a
# handful of grains (about nine or fewer), and so measures the image as much as the
# grains: two views that find a few pieces each agree whatever the grains are. Such
# estimates are not used.
MIN_GRAINS_ACROSS = 3


@dataclass
class ScaleChoice:
    scale: float                  # factor applied to the image before the network
    grain_size: float | None      # estimated mean grain diameter (px of the original)
    agreement: float | None       # ratio of the two agreeing estimates (1 = perfect)
    estimates: dict               # scale -> diameter estimated there (px of the original)
    source: str                   # 'auto', 'user', 'off' or 'no range in model'


def equivalent_diameter(labels: np.ndarray) -> float | None:
    """Mean grain diameter (px) of a label image from its planimetric (Jeffries) grain
    count, or None when there are no grains."""
    from ..analysis.statistics import jeffries_count

    if not labels.any():
        return None
    count = jeffries_count(labels)
    return math.sqrt(4 * labels.size / (max(count, 0.25) * math.pi))


def candidate_scales(shape: tuple[int, int]) -> list[float]:
    """1, 1/2, 1/4 ... while the smaller side stays >= MIN_SIDE px."""
    scales, s = [], 1.0
    while min(shape) * s >= MIN_SIDE and s >= 1 / 16:
        scales.append(s)
        s /= 2
    return scales or [1.0]


def pick_scale(estimates: dict[float, float | None], grain_range: tuple[float, float],
               shape: tuple[int, int] | None = None) -> ScaleChoice:
    """The scale to segment at, from diameter estimates (px of the original) per scale.

    An estimate is usable when, at its own scale, the grains fall in the model's range,
    and (given the image's ``shape``) the image holds at least about MIN_GRAINS_ACROSS
    squared of them.
    Of neighbouring usable scales the pair that agrees best gives the grain size; the image
    is then segmented at scale 1 when that size is comfortably inside the range, else
    rescaled to the range's middle.
    """
    low, high = grain_range
    largest = math.inf if shape is None else math.sqrt(math.prod(shape)) / MIN_GRAINS_ACROSS
    usable = {s: d for s, d in estimates.items() if d and low <= d * s <= high and d <= largest}
    scales = sorted(usable, reverse=True)
    best, agreement = None, None
    for a, b in itertools.pairwise(scales):
        if not math.isclose(a, 2 * b):
            continue
        ratio = max(usable[a], usable[b]) / min(usable[a], usable[b])
        if agreement is None or ratio < agreement:
            best, agreement = math.sqrt(usable[a] * usable[b]), ratio
    if best is None and usable:  # one usable scale: take the one nearest the middle
        middle = math.sqrt(low * high)
        s = min(usable, key=lambda s: abs(math.log(usable[s] * s / middle)))
        best = usable[s]
    if best is None:
        return ScaleChoice(1.0, None, None, estimates, "auto")
    return ScaleChoice(scale_for(best, grain_range), best, agreement, estimates, "auto")


def scale_for(diameter: float, grain_range: tuple[float, float]) -> float:
    """1 when ``diameter`` sits comfortably inside the range (a factor 1.5 from its ends),
    else the factor that brings it to the range's geometric middle (1/16 to 4)."""
    low, high = grain_range
    if low * 1.5 <= diameter <= high / 1.5:
        return 1.0
    return float(np.clip(math.sqrt(low * high) / diameter, 1 / 16, 4))


def check_range(found) -> tuple[float, float]:
    """A grain-size range from a weights file: two finite positive numbers, low < high."""
    ok = (isinstance(found, (list, tuple)) and len(found) == 2
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                  and v > 0 for v in found) and found[0] < found[1])
    if not ok:
        raise ValueError(f"grain-size range must be two positive numbers, low < high; "
                         f"the weights say {found!r}")
    return float(found[0]), float(found[1])


def resize(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Resize a (H, W) or (C, H, W) float32 array: area averaging down, bilinear up."""
    t = torch.from_numpy(np.ascontiguousarray(x, np.float32))
    t = t[None, None] if t.ndim == 2 else t[None]
    size = tuple(shape[-2:])
    mode = "area" if size[0] * size[1] < t.shape[-2] * t.shape[-1] else "bilinear"
    kwargs = {} if mode == "area" else {"align_corners": False}
    out = F.interpolate(t, size=size, mode=mode, **kwargs)[0]
    return out[0].numpy() if x.ndim == 2 else out.numpy()
