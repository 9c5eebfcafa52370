"""A hand-made micrograph look for simulated structures (no network involved).

Used for the sample data and for appearance variety when training: each grain gets its
own brightness (orientation contrast), boundaries are darker or brighter lines of varying
width, and the image gets uneven illumination, blur and noise.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi


def micrograph_look(phi: np.ndarray, labels: np.ndarray, rng: np.random.Generator | int = 0,
                    *, grain_contrast: float = 0.25, boundary_strength: float = 0.6,
                    bright_boundaries: bool = False, illumination: float = 0.15,
                    blur: float = 1.0, noise: float = 0.05) -> np.ndarray:
    """uint8 image of a simulated structure that looks like an etched/SEM micrograph.

    ``phi`` (1 in grains, lower on boundaries) shapes the boundary lines; ``labels`` gives
    each grain a random brightness spread by ``grain_contrast``.
    """
    rng = np.random.default_rng(rng)
    phi = np.asarray(phi, np.float32)
    labels = np.asarray(labels)
    h, w = phi.shape
    shade = 0.65 + grain_contrast * rng.standard_normal(int(labels.max()) + 1) / 2
    image = shade[labels].astype(np.float32)
    line = np.clip((1 - phi) / 0.5, 0, 1)  # 0 inside grains, 1 on boundaries
    line = ndi.gaussian_filter(line, 0.5)
    target = 1.0 if bright_boundaries else 0.05
    image = image + (target - image) * np.clip(line * boundary_strength * 1.6, 0, 1)
    if illumination > 0:  # a smooth gradient across the field of view
        yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
        angle = rng.uniform(0, 2 * np.pi)
        image = image * (1 + illumination * (np.cos(angle) * xx + np.sin(angle) * yy - 0.5))
    if blur > 0:
        image = ndi.gaussian_filter(image, blur)
    image = image + noise * rng.standard_normal(image.shape).astype(np.float32)
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)
