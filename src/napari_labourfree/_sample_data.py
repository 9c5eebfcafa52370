"""Sample data, generated on the fly (nothing is downloaded or bundled)."""

from __future__ import annotations

import dataclasses
import functools

from .jobs import run_job
from .phasefield.params import GrowthParams
from .phasefield.solver import simulate

# an etched, optical look: dark lines, shaded grains, uneven light, a little blur and noise
SAMPLE_LOOK = dict(polarity=(1, 0, 0), p_fading=0, p_texture=0, p_relief=0, p_twins=0,
                   p_boundary_particles=0, p_interior_particles=0, p_scratches=0, p_dust=0,
                   p_shot_noise=0, p_scan_lines=0, p_jpeg=0, p_16bit=0, p_colour=0,
                   illumination=(0.15, 0.15), vignetting=(0, 0), blur=(0.8, 0.8),
                   noise=(0.04, 0.04), line_width=(2.5, 2.5), line_strength=(0.8, 0.8),
                   grain_contrast=(0.12, 0.12))


@functools.lru_cache(maxsize=4)
def _grown(size: int, grains: int, steps: int, seed: int):
    # about 2 s the first time (eager torch, no compile wait); instant after that
    params = GrowthParams(height=size, width=size, grains=grains, steps=steps)
    return run_job(simulate(params, seeds=(seed,), compile=False))


def _grow(size: int, grains: int, steps: int, seed: int):
    """The grown structure, as fresh arrays (a user may paint into the layers)."""
    result = _grown(size, grains, steps, seed)
    return dataclasses.replace(result, phi=result.phi.copy(), mask=result.mask.copy(),
                               labels=result.labels.copy())


def phase_field_microstructure():
    """A 256x256 grown polycrystal: phi image, boundary mask and grain labels."""
    result = _grow(256, 40, 300, 2024)
    return [
        (result.phi[0], {"name": "phi [sample]", "colormap": "gray"}, "image"),
        (result.mask[0] // 255, {"name": "boundaries [sample]", "opacity": 0.6}, "labels"),
        (result.labels[0], {"name": "grains [sample]", "opacity": 0.4}, "labels"),
    ]


def synthetic_micrograph():
    """A 384x384 micrograph-like image of a grown structure, with its true boundaries.

    The look (grain shading, dark boundary lines, uneven light, blur, noise) is painted
    by the appearance engine from the simulation, so the ground truth is exact.
    """
    from .appearance import AppearanceConfig, paint

    result = _grow(384, 90, 400, 7)
    painted = paint(result.labels[0].astype("int32") + 1, 7, AppearanceConfig(**SAMPLE_LOOK))
    return [
        (painted.image, {"name": "micrograph [sample]", "colormap": "gray"}, "image"),
        (painted.mask.astype("uint8"), {"name": "true boundaries [sample]", "opacity": 0.5,
                                        "visible": False}, "labels"),
    ]
