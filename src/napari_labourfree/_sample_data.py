"""Sample data, generated on the fly (nothing is downloaded or bundled)."""

from __future__ import annotations

from .jobs import run_job
from .phasefield.solver import GrowthParams, simulate


def phase_field_microstructure():
    """A 256x256 grown polycrystal: phi image, boundary mask and grain labels."""
    params = GrowthParams(height=256, width=256, grains=40, steps=300)
    result = run_job(simulate(params, seeds=(2024,), compile=False))
    return [
        (result.phi[0], {"name": "phi [sample]", "colormap": "gray"}, "image"),
        (result.mask[0] // 255, {"name": "boundaries [sample]", "opacity": 0.6}, "labels"),
        (result.labels[0], {"name": "grains [sample]", "opacity": 0.4}, "labels"),
    ]
