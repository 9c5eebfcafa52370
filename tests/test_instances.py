"""Boundary masks -> grain instances."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from napari_labourfree.analysis.instances import (
    as_boundary_mask,
    border_labels,
    boundaries_from_image,
    boundaries_from_labels,
    grains_from_boundaries,
    grains_from_image,
    guess_kind,
)


def test_grains_are_the_regions_between_lines(grid_mask):
    labels = grains_from_boundaries(grid_mask)
    assert labels.dtype == np.uint32
    assert labels.max() == 4 * 6
    assert set(np.unique(labels[grid_mask > 0])) == {0}
    areas = np.bincount(labels.ravel())[1:]
    assert sorted(set(areas)) == [19 * 19]


def test_grains_use_4_connectivity():
    # A diagonal (8-connected) line separates two grains only under 4-connectivity.
    mask = np.eye(20, dtype=bool)
    assert grains_from_boundaries(mask).max() == 2


def test_close_gaps_splits_grains_joined_through_a_gap():
    mask = np.zeros((40, 81), bool)
    mask[:, 40] = True
    mask[19:21, 40] = False  # a 2-px hole in the boundary
    assert grains_from_boundaries(mask).max() == 1
    split = grains_from_boundaries(mask, close_gaps=2)
    assert split.max() == 2
    left, right = split[20, 10], split[20, 70]
    assert left != right and left > 0 and right > 0


def test_close_gaps_keeps_grains_too_thin_for_a_seed():
    mask = np.zeros((30, 30), bool)
    mask[:, 2] = True  # the strip left of the line is 2 px wide: its peak is below h
    labels = grains_from_boundaries(mask, close_gaps=3)
    assert labels.max() == 2 and (labels[:, :2] > 0).all()


def test_min_area_drops_specks_and_fill_gives_every_pixel_a_grain(grid_mask):
    mask = grid_mask.copy()
    mask[5:8, 5:8] = 255
    mask[6, 6] = 0  # a one-pixel speck inside a ring
    assert grains_from_boundaries(mask).max() == 25
    assert grains_from_boundaries(mask, min_area=2).max() == 24
    filled = grains_from_boundaries(mask, min_area=2, fill_boundaries=True)
    assert filled.min() == 1 and filled.max() == 24


def test_border_labels(grid_mask):
    labels = grains_from_boundaries(grid_mask)
    border = border_labels(labels)
    # the lines run along the bottom and right edges, so only the top row and the left
    # column of the 4 x 6 cells touch the edge
    assert len(border) == 6 + 4 - 1
    assert not np.isin(labels[25, 25], border)


def test_boundary_threshold_reads_01_0255_antialiased_and_probability():
    mask = np.zeros((10, 10), np.uint8)
    mask[5] = 255
    mask[4] = 100  # anti-aliased fringe, below half
    assert as_boundary_mask(mask).sum() == 10
    assert as_boundary_mask((mask == 255).astype(np.uint8)).sum() == 10
    prob = np.full((10, 10), 0.2, np.float32)
    prob[3] = 0.7
    assert as_boundary_mask(prob, 0.5).sum() == 10
    with pytest.raises(ValueError, match="NaN"):
        as_boundary_mask(np.full((4, 4), np.nan))
    with pytest.raises(ValueError, match="2-D"):
        as_boundary_mask(np.zeros((2, 4, 4)))


def test_guess_kind():
    rng = np.random.default_rng(0)
    assert guess_kind(np.zeros((4, 4), bool)) == "mask"
    assert guess_kind(np.array([[0, 255], [255, 0]], np.uint8)) == "mask"
    aa = np.zeros((20, 20), np.uint8)
    aa[5] = 255
    aa[6] = np.arange(20)  # anti-aliasing: many values, but 0 and 255 dominate
    assert guess_kind(aa) == "mask"
    assert guess_kind(rng.integers(0, 50, (20, 20)).astype(np.uint16)) == "labels"
    assert guess_kind(rng.random((20, 20)).astype(np.float32)) == "probability"


def test_grains_from_image_takes_labels_as_they_are():
    labels = np.array([[1, 1, 2], [3, 3, 2], [3, 3, 2]], np.uint16)
    out, kind = grains_from_image(labels)
    assert kind == "labels" and (out == labels).all()
    out, _ = grains_from_image(labels, "labels", min_area=3)
    assert set(np.unique(out)) == {0, 2, 3}
    with pytest.raises(ValueError, match="integers"):
        grains_from_image(labels.astype(float), "labels")
    with pytest.raises(ValueError, match="kind must be"):
        grains_from_image(labels, "colour")


def test_probability_uses_half_by_default():
    prob = np.full((20, 20), 0.3, np.float32)
    prob[:, 10] = 0.9
    prob[0, 0] = 0.31  # makes more than two values
    labels, kind = grains_from_image(prob)
    assert kind == "probability" and labels.max() == 2


def test_boundaries_from_labels_draws_one_pixel_lines():
    labels = np.ones((6, 6), np.uint32)
    labels[:, 3:] = 2
    mask = boundaries_from_labels(labels)
    assert mask.sum() == 6 and mask[:, 2].all()
    labels[0, 0] = 7
    mask, out, kind = boundaries_from_image(labels.astype(np.uint16))
    assert kind == "labels" and out is not None and mask[:, 2].all() and mask[0, 0]


def _flood_case(shape=(300, 220), seed=3):
    """A watershed surface with ridges between random grains, and shrunken grain cores."""
    from scipy import ndimage as ndi
    from skimage import measure, segmentation

    rng = np.random.default_rng(seed)
    points = np.zeros(shape, np.int32)
    points[tuple(rng.integers(0, s, 120) for s in shape)] = np.arange(1, 121)
    grains = segmentation.watershed(np.zeros(shape), points)  # Voronoi cells
    edges = segmentation.find_boundaries(grains)
    surface = ndi.gaussian_filter(edges.astype(float), 2) + 0.05 * rng.standard_normal(shape)
    seeds = measure.label(ndi.distance_transform_edt(~edges) > 4, connectivity=1)
    return surface.astype(np.float32), seeds


@pytest.mark.parametrize("reuse_seeds", [False, True])
def test_flood_is_the_watershed_in_strips_and_whole(monkeypatch, reuse_seeds):
    from skimage import segmentation

    from napari_labourfree.analysis import instances

    surface, seeds = _flood_case()
    expected = segmentation.watershed(surface, seeds)
    real_flood = instances.flood

    def flood(surface, given, **kwargs):  # with reuse_seeds, on a copy each time
        return real_flood(surface, given.copy() if reuse_seeds else given,
                          reuse_seeds=reuse_seeds, **kwargs)

    monkeypatch.setattr(instances, "flood", flood)
    assert np.array_equal(instances.flood(surface, seeds), expected)  # one piece
    monkeypatch.setattr(instances.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(instances, "STRIP_ROWS", 64)
    monkeypatch.setattr(instances, "STRIP_MARGIN", 48)
    calls = []
    real = segmentation.watershed
    monkeypatch.setattr(instances.segmentation, "watershed",
                        lambda image, *a, **k: (calls.append(image.shape), real(image, *a, **k))[1])
    assert np.array_equal(instances.flood(surface, seeds), expected)
    # 300 rows on 2 cores: 3 strips (at most 2 STRIP_ROWS each, for memory), no redo
    assert len(calls) == 3 and all(rows <= 2 * (64 + 48) for rows, _ in calls)
    # context too short to agree at the cut: flooded again as a whole, still the same
    monkeypatch.setattr(instances, "STRIP_MARGIN", 2)
    calls.clear()
    assert np.array_equal(instances.flood(surface, seeds), expected)
    assert calls[-1] == (300, 220)
    # a wide image: strips bounded by STRIP_PIXELS too (more, narrower strips)
    monkeypatch.setattr(instances, "STRIP_MARGIN", 48)
    monkeypatch.setattr(instances, "STRIP_PIXELS", 150 * 220)
    calls.clear()
    assert np.array_equal(instances.flood(surface, seeds), expected)
    assert len(calls) == 6 and all(rows * cols <= 150 * 220 for rows, cols in calls)
    # the surface as a difference, taken a strip at a time
    half = (surface / 2).astype(np.float32)
    assert np.array_equal(instances.flood(surface + half, seeds, minus=half),
                          instances.flood((surface + half) - half, seeds))
    if reuse_seeds:  # the labels go into the seeds' own array, in strips or redone whole
        for margin in (48, 2):
            monkeypatch.setattr(instances, "STRIP_MARGIN", margin)
            given = seeds.copy()
            labels = real_flood(surface, given, reuse_seeds=True)
            assert np.array_equal(labels, expected)
            assert (labels is given) == (margin == 48)


def test_fill_unlabelled_reaches_every_pixel():
    from napari_labourfree.analysis.instances import fill_unlabelled

    labels = np.zeros((10, 10), np.int32)
    labels[0, 0] = 3  # the far corner is further than the image's side from it
    assert (fill_unlabelled(labels) == 3).all()
    two = np.zeros((6, 9), np.uint32)
    two[:, 0], two[:, -1] = 1, 2
    filled = fill_unlabelled(two)
    assert filled.dtype == np.uint32
    assert (filled[:, :4] == 1).all() and (filled[:, 5:] == 2).all()


@pytest.mark.parametrize("box_overhead", [-10**9, 10**9], ids=["box by box", "all at once"])
def test_fill_unlabelled_hole_by_hole_is_the_whole_image_nearest_grain(monkeypatch,
                                                                        box_overhead):
    from napari_labourfree.analysis import instances
    from napari_labourfree.analysis.instances import fill_unlabelled

    monkeypatch.setattr(instances, "BOX_OVERHEAD_PX", box_overhead)  # force either way
    rng = np.random.default_rng(5)
    for _ in range(60):
        shape = tuple(rng.integers(5, 90, 2))
        labels = np.zeros(shape, np.int32)
        points = tuple(rng.integers(0, s, 25) for s in shape)
        labels[points] = np.arange(1, 26)
        labels = ndi.grey_dilation(labels, size=int(rng.integers(1, 12)))
        for _ in range(int(rng.integers(1, 15))):  # holes of every size, some at the edge
            r, c, size = *(rng.integers(0, s) for s in shape), rng.integers(1, 15)
            labels[r:r + size, c:c + size] = 0
        if not labels.any():
            continue
        rows, cols = ndi.distance_transform_edt(labels == 0, return_distances=False,
                                                return_indices=True)
        original = labels.copy()
        assert np.array_equal(fill_unlabelled(labels), labels[rows, cols])
        assert np.array_equal(labels, original)  # the input is not changed
        # in place: the same, with the nearest grain looked for among the first labels
        assert np.array_equal(fill_unlabelled(labels, in_place=True), original[rows, cols])


def test_remove_small_in_place_and_pixel_counts_in_pieces(monkeypatch):
    from napari_labourfree.analysis import instances

    monkeypatch.setattr(instances, "COUNT_PIXELS", 100)  # 32 pieces
    rng = np.random.default_rng(3)
    labels = (np.arange(64)[:, None] // 4 * 10 + np.arange(50)[None] // 5).astype(np.int32)
    labels[rng.random(labels.shape) < 0.3] = 0  # grains of 20 px, a few left under 12 px
    assert np.array_equal(instances.pixel_counts(labels), np.bincount(labels.ravel()))
    expected = instances._remove_small(labels, 12)
    assert (expected == 0).sum() > (labels == 0).sum()  # some grains were small
    given = labels.copy()
    assert instances._remove_small(given, 12, in_place=True) is given
    assert np.array_equal(given, expected)
