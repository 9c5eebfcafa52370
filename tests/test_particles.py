"""Second-phase particles: found without labels, and marked in the simulations."""

from pathlib import Path

import numpy as np
import pytest

from napari_labourfree.analysis.instances import boundaries_from_labels
from napari_labourfree.particles import (
    NONE,
    Particles,
    find_particles,
    mark_particles,
    summarise,
)
from napari_labourfree.phasefield.voronoi import voronoi_structure

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _micrograph(fraction: float, seed: int = 0):
    """Grey grains of slightly different brightness, dark boundaries, bright round
    particles of radius 4 on the boundaries, noise. Returns (image, boundaries, truth)."""
    rng = np.random.default_rng(seed)
    labels = voronoi_structure(60, (384, 384), seed)
    lines = boundaries_from_labels(labels)
    image = 0.5 + rng.uniform(-0.1, 0.1, labels.max() + 1)[labels]
    image[lines] = 0.15
    particles = mark_particles(np.ones(labels.shape, np.float32), lines,
                               Particles(fraction, "bright", 4.0, 1.0), rng) < 0.5
    image[particles] = 0.95
    image += rng.normal(0, 0.03, image.shape)
    return image.astype(np.float32), lines, particles.mean()


def test_finds_bright_particles_on_the_boundaries():
    image, lines, truth = _micrograph(0.015)
    found = find_particles(image, diameter=50, boundaries=lines)
    assert found.polarity == "bright"
    assert 0.5 * truth < found.fraction < 1.5 * truth, (found.fraction, truth)
    assert found.on_boundaries > 0.8
    assert 2.5 < found.radius < 5.5


def test_no_particles_in_grains_and_lines_alone():
    """Small grains, triple junctions and lines are not particles."""
    image, lines, _ = _micrograph(0.0, seed=1)
    assert find_particles(image, diameter=50, boundaries=lines) == NONE


@pytest.mark.skipif(not (DATA / "nist-steel").is_dir(),
                    reason="needs ../shared/data (the real micrographs) beside the checkout")
def test_no_particles_in_the_nist_steel():
    """A dark-boundary optical micrograph: its dark junctions and small bright grains are
    not particles."""
    from napari_labourfree.io.images import read_image

    image = read_image(DATA / "nist-steel" / "steel_optical.tif", grey=True).data
    assert find_particles(image, diameter=48).fraction == 0


def test_marks_the_area_fraction_on_the_boundaries_only():
    labels = voronoi_structure(40, (256, 256), 3)
    mask = boundaries_from_labels(labels)
    phi = np.where(mask, 0.5, 1.0).astype(np.float32)
    marked = mark_particles(phi, mask, Particles(0.02, "bright", 3.0, 1.0),
                            np.random.default_rng(0))
    dark = marked < 0.25
    assert 0.01 < dark.mean() < 0.03
    from scipy import ndimage as ndi

    near = ndi.distance_transform_edt(~mask) <= 4
    assert near[dark].mean() > 0.95  # every particle sits on a boundary
    assert (marked[~dark & ~mask] == 1).mean() > 0.99  # the grains are untouched
    assert (mark_particles(phi, mask, NONE, np.random.default_rng(0)) == phi).all()


def test_summary_of_several_images():
    some = Particles(0.01, "dark", 3.0, 0.5)
    assert summarise([some, some, NONE]).fraction == 0.01
    assert summarise([some, NONE, NONE]) == NONE  # most images have none
    assert summarise([]) == NONE
