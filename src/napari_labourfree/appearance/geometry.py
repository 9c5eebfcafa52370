"""Grain maps at any scale from periodic phase-field structures.

The simulated structures are periodic (Voronoi seeds on a torus, periodic Laplacian), so a
window of any size can be read from them by wrapping around: shrinking a 512 px structure
4x gives a 512 px view with 16x the grains, without simulating more. Enlarged views are
smoothed with a majority filter so grain edges do not turn into staircases.
"""

from __future__ import annotations

import math

import numpy as np
from skimage import filters, measure, morphology


def mean_diameter(labels: np.ndarray) -> float:
    """Equivalent-circle diameter of the mean grain area (px) of a periodic label map
    (every id is one whole grain, even where it wraps around an edge)."""
    n = len(np.unique(labels[labels > 0]))
    return math.sqrt(4 * labels.size / max(n, 1) / math.pi)


def periodic_view(labels: np.ndarray, shape: tuple[int, int], zoom: float,
                  rng: np.random.Generator) -> np.ndarray:
    """A ``shape`` window of a periodic label map magnified by ``zoom``, from a random
    origin, relabelled 1..N (4-connected; copies of a grain seen twice get two ids)."""
    if zoom <= 0 or not math.isfinite(zoom):
        raise ValueError(f"zoom must be a positive number, not {zoom}")
    h, w = labels.shape
    y0, x0 = rng.uniform(0, h), rng.uniform(0, w)
    rows = np.floor(y0 + (np.arange(shape[0]) + 0.5) / zoom).astype(np.int64) % h
    cols = np.floor(x0 + (np.arange(shape[1]) + 0.5) / zoom).astype(np.int64) % w
    view = labels[rows[:, None], cols[None, :]]
    view = measure.label(view.astype(np.int64) + 1, background=0, connectivity=1)
    if zoom > 1.5:
        radius = max(1, round(zoom / 2))
        if view.max() < 2**16:  # the rank filter takes 16-bit labels
            view = filters.rank.majority(view.astype(np.uint16), morphology.disk(radius))
            view = measure.label(view, background=0, connectivity=1)
    return view.astype(np.int32)
