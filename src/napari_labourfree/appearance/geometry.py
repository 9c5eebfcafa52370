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
                  rng: np.random.Generator, *, elongation: float = 1.0, angle: float = 0.0,
                  displacement: np.ndarray | None = None) -> np.ndarray:
    """A ``shape`` window of a periodic label map magnified by ``zoom``, from a random
    origin, relabelled 1..N (4-connected; copies of a grain seen twice get two ids).

    ``elongation`` stretches the grains by that factor along ``angle`` (radians from the
    rows' axis) and shrinks them across it, keeping their area. ``displacement`` (2, H, W),
    in output px, moves where each pixel is read from (wavy boundaries).
    """
    if zoom <= 0 or not math.isfinite(zoom):
        raise ValueError(f"zoom must be a positive number, not {zoom}")
    if elongation < 1 or not math.isfinite(elongation):
        raise ValueError(f"elongation must be a number >= 1, not {elongation}")
    if displacement is not None and (np.shape(displacement) != (2, *shape)
                                     or not np.isfinite(displacement).all()):
        raise ValueError(f"displacement must be finite and of shape (2, {shape[0]}, "
                         f"{shape[1]}), not {np.shape(displacement)}")
    h, w = labels.shape
    y0, x0 = rng.uniform(0, h), rng.uniform(0, w)
    reshaped = elongation != 1 or displacement is not None
    if not reshaped:
        rows = np.floor(y0 + (np.arange(shape[0]) + 0.5) / zoom).astype(np.int64) % h
        cols = np.floor(x0 + (np.arange(shape[1]) + 0.5) / zoom).astype(np.int64) % w
        view = labels[rows[:, None], cols[None, :]]
    else:
        y, x = np.meshgrid(np.arange(shape[0]) + 0.5, np.arange(shape[1]) + 0.5,
                           indexing="ij")
        if displacement is not None:
            y, x = y + displacement[0], x + displacement[1]
        # source = R diag(1/sqrt(e), sqrt(e)) R^T (output) / zoom: a grain of the source
        # is e times longer along ``angle`` in the output, and as large
        c, s = math.cos(angle), math.sin(angle)
        along, across = (c * y + s * x) / math.sqrt(elongation), (-s * y + c * x) * math.sqrt(
            elongation)
        rows = np.floor(y0 + (c * along - s * across) / zoom).astype(np.int64) % h
        cols = np.floor(x0 + (s * along + c * across) / zoom).astype(np.int64) % w
        view = labels[rows, cols]
    view = measure.label(view.astype(np.int64) + 1, background=0, connectivity=1)
    if zoom > 1.5:
        radius = max(1, round(zoom / 2))
        if view.max() < 2**16:  # the rank filter takes 16-bit labels
            view = filters.rank.majority(view.astype(np.uint16), morphology.disk(radius))
            view = measure.label(view, background=0, connectivity=1)
    if reshaped:
        view = _without_crumbs(view)
    return view.astype(np.int32)


def _without_crumbs(view: np.ndarray, area: int = 4) -> np.ndarray:
    """Pieces of under ``area`` px, which reading a turned or bent grid pixel by pixel cuts
    off a grain's edge, given back to the grains around them."""
    from ..analysis.instances import _remove_small, fill_unlabelled

    sizes = np.bincount(view.ravel())[1:]
    if sizes.min(initial=area) >= area or sizes.max(initial=0) < area:
        return view  # nothing to give back, or nothing to give it to
    view = fill_unlabelled(_remove_small(view, area))
    return measure.label(view, background=0, connectivity=1)


def structure_view(labels: np.ndarray, shape: tuple[int, int], zoom: float, diameter: float,
                   rng: np.random.Generator, config) -> tuple[np.ndarray, dict]:
    """The grain map one painted image shows, and the geometry drawn for it: ``labels``
    read periodically at ``zoom`` (so its grains are ``diameter`` px across), elongated
    and with wavy boundaries as often as ``config`` (an AppearanceConfig) says.

    The geometry's chances are drawn only when they are above 0, so a config without them
    gives exactly :func:`periodic_view`'s map for the same ``rng``.
    """
    from ..phasefield.voronoi import smooth_field

    factors, kwargs = {}, {}
    if config.p_elongation > 0 and rng.random() < config.p_elongation:
        kwargs["elongation"] = float(rng.uniform(*config.elongation))
        kwargs["angle"] = float(rng.uniform(0, math.pi))
        factors["elongation"] = round(kwargs["elongation"], 2)
    if config.p_waviness > 0 and rng.random() < config.p_waviness:
        amount = float(rng.uniform(*config.waviness))
        # correlated over a third of a grain: each boundary bends a few times along its length
        length = max(diameter / 3, 2.0)
        kwargs["displacement"] = np.stack([smooth_field(shape, length, rng) for _ in range(2)]
                                          ).astype(np.float32) * (amount * diameter)
        factors["waviness"] = round(amount, 3)
    return periodic_view(labels, shape, zoom, rng, **kwargs), factors
