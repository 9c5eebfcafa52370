"""A classical baseline: ridge filter + marker watershed, with parameters fixed once.

Dark boundary lines give a strong Sato ridge response. Grain seeds are the connected
regions of weak response (below Otsu's threshold of the ridge image), and a watershed of
the ridge image from those seeds draws one-pixel lines between grains. Nothing is learned
and nothing is tuned per image.
"""

from __future__ import annotations

import numpy as np
from skimage import filters, measure, segmentation

from ..normalise import to_unit

SIGMAS = (1.0, 2.0, 3.0)
MIN_SEED_AREA = 20


def classical_boundaries(image: np.ndarray, sigmas=SIGMAS, min_seed_area: int = MIN_SEED_AREA,
                         dark_boundaries: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(boundary mask, grain labels) of a grey micrograph."""
    unit = to_unit(image)
    ridge = filters.sato(unit, sigmas=sigmas, black_ridges=dark_boundaries)
    seeds = measure.label(ridge < filters.threshold_otsu(ridge), connectivity=1)
    areas = np.bincount(seeds.ravel())
    small = areas < min_seed_area
    small[0] = False
    seeds[small[seeds]] = 0
    labels = segmentation.watershed(ridge, seeds, watershed_line=True)
    boundaries = labels == 0
    return boundaries, segmentation.expand_labels(labels, 1).astype(np.uint32) \
        if boundaries.any() else labels.astype(np.uint32)
