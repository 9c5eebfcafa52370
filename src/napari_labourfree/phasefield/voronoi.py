"""Periodic Voronoi tessellations with regularised grain sizes (Lloyd relaxation).

The domain is a torus of ``height`` x ``width`` pixels, so grains that leave one edge come
back at the opposite edge, just as in the phase-field solver.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

# Lloyd iterations run on a grid coarsened by this factor: centroids only need to be
# approximate, and a 512x512 map costs 16x less this way.
_LLOYD_STRIDE = 4


def _pixel_centres(height: int, width: int, stride: int = 1) -> np.ndarray:
    ys, xs = np.mgrid[0:height:stride, 0:width:stride]
    return np.column_stack([ys.ravel(), xs.ravel()]).astype(np.float64) + 0.5 * (stride > 1)


def nearest_seed(seeds: np.ndarray, points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Index of the nearest seed (periodic distance) for each point."""
    tree = cKDTree(seeds, boxsize=shape)
    return tree.query(points, workers=-1)[1]


def lloyd_relax(seeds: np.ndarray, shape: tuple[int, int], iterations: int) -> np.ndarray:
    """Move each seed to the (periodic) centroid of its cell, ``iterations`` times."""
    seeds = seeds.copy()
    box = np.asarray(shape, dtype=np.float64)
    stride = _LLOYD_STRIDE if min(shape) >= 16 * _LLOYD_STRIDE else 1
    points = _pixel_centres(*shape, stride=stride)
    for _ in range(iterations):
        owner = nearest_seed(seeds, points, shape)
        # Displacement from the owning seed, wrapped to the nearest periodic image.
        delta = points - seeds[owner]
        delta -= box * np.round(delta / box)
        counts = np.bincount(owner, minlength=len(seeds))
        shift = np.stack(
            [np.bincount(owner, weights=delta[:, k], minlength=len(seeds)) for k in range(2)],
            axis=1,
        )
        moved = counts > 0
        seeds[moved] += shift[moved] / counts[moved, None]
        seeds = wrap(seeds, box)
    return seeds


def wrap(points: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Points folded into [0, box): ``%`` alone can round a tiny negative value up to
    exactly ``box``, which the periodic k-d tree refuses."""
    points = points % box
    return np.where(points >= box, 0.0, points)


def random_seeds(
    n: int, shape: tuple[int, int], rng: np.random.Generator, regularity: int = 5,
    spread: float = 0.0,
) -> np.ndarray:
    """``n`` seed positions (y, x) on the torus; ``regularity`` Lloyd iterations even out
    areas. ``spread`` > 0 draws them from a smooth random density whose log has that
    standard deviation, so fine and coarse grains sit side by side as in real structures."""
    box = np.asarray(shape, dtype=np.float64)
    if spread > 0:
        density = np.exp(spread * smooth_field(shape, np.sqrt(box.prod() / n) * 2, rng))
        pick = rng.choice(density.size, n, p=(density / density.sum()).ravel())
        cells = np.column_stack(np.unravel_index(pick, shape)).astype(np.float64)
        seeds = wrap(cells + rng.random((n, 2)), box)
    else:
        seeds = rng.random((n, 2)) * box
    return lloyd_relax(seeds, shape, regularity) if regularity > 0 else seeds


def smooth_field(shape: tuple[int, int], length: float, rng: np.random.Generator
                 ) -> np.ndarray:
    """A periodic Gaussian random field of zero mean and unit standard deviation,
    correlated over about ``length`` px."""
    noise = np.fft.fft2(rng.standard_normal(shape))
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.fftfreq(shape[1])[None, :]
    field = np.fft.ifft2(noise * np.exp(-2 * (np.pi * length) ** 2 * (ky**2 + kx**2))).real
    return (field - field.mean()) / max(field.std(), 1e-12)


def voronoi_labels(seeds: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Label map (1..n, int32) of the periodic Voronoi tessellation of ``seeds``."""
    owner = nearest_seed(seeds, _pixel_centres(*shape), shape)
    return (owner + 1).astype(np.int32).reshape(shape)


def voronoi_structure(
    n: int, shape: tuple[int, int], seed: int | np.random.SeedSequence, regularity: int = 5,
    spread: float = 0.0,
) -> np.ndarray:
    """Deterministic periodic Voronoi label map of ``n`` grains for a given ``seed``."""
    rng = np.random.default_rng(seed)
    return voronoi_labels(random_seeds(n, shape, rng, regularity, spread), shape)
