"""Sample data, generated on the fly (nothing is downloaded or bundled)."""

from __future__ import annotations

from .jobs import run_job
from .phasefield.appearance import micrograph_look
from .phasefield.solver import GrowthParams, simulate


def _grow(size: int, grains: int, steps: int, seed: int):
    params = GrowthParams(height=size, width=size, grains=grains, steps=steps)
    return run_job(simulate(params, seeds=(seed,), compile=False))


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
    by hand from the simulation, so the ground truth is exact.
    """
    result = _grow(384, 90, 400, 7)
    image = micrograph_look(result.phi[0], result.labels[0], 7)
    return [
        (image, {"name": "micrograph [sample]", "colormap": "gray"}, "image"),
        (result.mask[0] // 255, {"name": "true boundaries [sample]", "opacity": 0.5,
                                 "visible": False}, "labels"),
    ]
