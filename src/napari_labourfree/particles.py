"""Second-phase particles: found in real images without labels, and carried into the
simulations the style model learns from.

A style model shown real images with bright particles on the boundaries, and simulations
without any, invents particles from whole grains; the segmenter then learns particle
outlines as boundaries. So when the user's images show particles, the simulations carry
round particles too, marked in phi (value 0: below any boundary, at ~0.5) at the places the
real ones sit. They are not boundaries: the masks and labels stay the phase field's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MIN_FRACTION = 0.002  # area fractions below this are noise, not particles
MAX_FRACTION = 0.2
MIN_RADIUS = 2.0  # px: thinner things (lines, noise) are removed by an opening this wide


@dataclass(frozen=True)
class Particles:
    """What the particles in a set of images look like."""

    fraction: float  # area fraction, 0 when none
    polarity: str  # 'bright' or 'dark' (against their surroundings)
    radius: float  # px, median equivalent radius
    on_boundaries: float  # share of particles that sit on a grain boundary (0-1)
    source: str = "auto"  # 'auto' or 'user'

    def to_dict(self) -> dict:
        return {"fraction": round(self.fraction, 5), "polarity": self.polarity,
                "radius_px": round(self.radius, 2),
                "on_boundaries": round(self.on_boundaries, 3), "source": self.source}

    @classmethod
    def from_dict(cls, found: dict) -> Particles:
        return cls(found["fraction"], found["polarity"], found["radius_px"],
                   found["on_boundaries"], found["source"])


NONE = Particles(0.0, "bright", 0.0, 0.0)


def check_particles(value) -> str | float:
    """'auto' or an area fraction from 0 to MAX_FRACTION."""
    if value == "auto":
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"particles must be 'auto' or an area fraction, not {value!r}") \
            from None
    if isinstance(value, bool) or not math.isfinite(number) or not 0 <= number <= MAX_FRACTION:
        raise ValueError(f"particles must be an area fraction from 0 to {MAX_FRACTION}, "
                         f"not {value!r}")
    return number


def find_particles(image: np.ndarray, diameter: float | None,
                   boundaries: np.ndarray | None = None) -> Particles:
    """Round blobs much brighter (or darker) than their surroundings, at least
    2*MIN_RADIUS px across and at most a third of a grain: lines (boundaries, scratches)
    are not round, grains are not small, small grains are no brighter than the grains
    around them, and junctions of lines no brighter than the lines. ``boundaries`` (the
    built-in default's, say) tells where they sit."""
    from scipy import ndimage as ndi
    from skimage.measure import regionprops
    from skimage.morphology import disk, opening

    from .analysis.realism import to_unit_range

    x = to_unit_range(np.asarray(image, np.float32))
    r = float(np.clip((diameter or 60) / 6, 3, 15))
    smooth = ndi.gaussian_filter(x, 1)  # a blob averages the pixel noise away; so do we
    noise = 0.28 * 1.4826 * np.median(np.abs(x - smooth))  # left after the smoothing
    ring_shape = disk(3)
    best = NONE
    for polarity, signed in (("bright", smooth), ("dark", 1 - smooth)):
        tophat = signed - ndi.grey_opening(signed, footprint=disk(round(r)))
        standing_out = tophat > max(6 * noise, 0.2)
        labels, _ = ndi.label(opening(standing_out, disk(MIN_RADIUS)))  # lines removed
        blobs = []
        for p in regionprops(labels, signed):
            if not (p.area <= math.pi * (2 * r) ** 2 and p.solidity > 0.8
                    and p.axis_minor_length >= 0.5 * p.axis_major_length):
                continue
            box = tuple(slice(max(0, s.start - 16), s.stop + 16) for s in p.slice)
            blob = labels[box] == p.label
            values = signed[box]
            # a small grain is no brighter than the grains around it, beyond its lines
            beyond = ndi.binary_dilation(blob, disk(12)) & ~ndi.binary_dilation(blob, disk(4))
            if p.intensity_mean - np.median(values[beyond]) < 0.2:
                continue
            # a thickening of the lines (a triple junction) is no brighter than the lines
            # it joins; a particle sitting on them is
            ring = ndi.binary_dilation(blob, ring_shape) & ~blob & standing_out[box]
            if ring.sum() < 3 or p.intensity_mean - values[ring].mean() > 0.15:
                blobs.append(p)
        area = sum(p.area for p in blobs)
        if area / x.size <= best.fraction:
            continue
        radius = float(np.median([math.sqrt(p.area / math.pi) for p in blobs]))
        share = 0.0
        if boundaries is not None and boundaries.any():
            near = ndi.distance_transform_edt(~boundaries.astype(bool)) <= radius + 2
            share = float(np.mean([near[tuple(np.round(p.centroid).astype(int))]
                                   for p in blobs]))
        best = Particles(area / x.size, polarity, radius, share)
    return best if best.fraction >= MIN_FRACTION else NONE


def summarise(found: list[Particles]) -> Particles:
    """One description for a set of images: the median fraction, the commoner polarity."""
    if not found:
        return NONE
    fraction = float(np.median([p.fraction for p in found]))
    if fraction < MIN_FRACTION:
        return NONE
    with_particles = [p for p in found if p.fraction > 0]
    bright = sum(p.polarity == "bright" for p in with_particles)
    polarity = "bright" if 2 * bright >= len(with_particles) else "dark"
    return Particles(fraction, polarity,
                     float(np.median([p.radius for p in with_particles])),
                     float(np.median([p.on_boundaries for p in with_particles])))


def mark_particles(phi: np.ndarray, mask: np.ndarray, particles: Particles,
                   rng: np.random.Generator) -> np.ndarray:
    """phi with round particles at value 0, on the boundary pixels of ``mask`` for the
    share that sits on boundaries, inside grains for the rest."""
    from .appearance.paint import draw_disks

    out = np.array(phi, np.float32)
    if particles.fraction <= 0:
        return out
    h, w = out.shape
    on_boundary = np.asarray(mask) > 0
    radius = max(particles.radius, MIN_RADIUS)
    layer = np.zeros((h, w), np.float32)
    for places, share in ((on_boundary, particles.on_boundaries),
                          (~on_boundary, 1 - particles.on_boundaries)):
        ys, xs = np.nonzero(places)
        n = int(min(len(ys), round(share * particles.fraction * h * w
                                   / (math.pi * radius ** 2))))
        if n == 0:
            continue
        pick = rng.choice(len(ys), n, replace=False)
        draw_disks(layer, ys[pick], xs[pick], radius * rng.uniform(0.7, 1.3, n))
    return out * (1 - layer)


def find_in_files(paths, diameter: float | None, boundaries_dir=None):
    """Job: :func:`summarise` of :func:`find_particles` over image files; the built-in
    default's ``{stem}_boundaries.tif`` in ``boundaries_dir`` say where they sit."""
    from pathlib import Path

    from .io.images import read_image
    from .jobs import Progress

    found = []
    for i, path in enumerate(paths):
        lines = None
        if boundaries_dir is not None:
            mask = Path(boundaries_dir) / f"{Path(path).stem}_boundaries.tif"
            if mask.is_file():
                lines = read_image(mask).data > 0
        image = read_image(path, grey=True).data
        found.append(find_particles(image, diameter, lines if lines is not None
                                    and lines.shape == image.shape else None))
        yield Progress(i + 1, len(paths), f"looking for particles {i + 1}/{len(paths)}")
    return summarise(found)


def mark_simulations(sims, out, particles: Particles, seed: int = 0):
    """Job: a copy of a `simulate` folder whose phi images carry ``particles``
    (:func:`mark_particles`); masks and labels are copied unchanged. Returns the meta."""
    from .derived import derive_simulations

    return derive_simulations(
        sims, out, "particles", {"particles": particles.to_dict()},
        lambda phi, mask, labels, rng: mark_particles(phi, mask, particles, rng), seed,
        "particles in")
