"""SegmentOptions, grains from maps, the scale choice and the quality signal."""

import math

import numpy as np
import pytest
from conftest import square_grid

from napari_labourfree.analysis.instances import grains_from_maps
from napari_labourfree.segmenter.options import SegmentOptions, parse_grain_size
from napari_labourfree.segmenter.quality import assess
from napari_labourfree.segmenter.scale import (
    ScaleChoice,
    candidate_scales,
    equivalent_diameter,
    pick_scale,
    resize,
    scale_for,
)
from napari_labourfree.segmenter.train import distance_target


@pytest.mark.parametrize("changes, words", [
    ({"threshold": 0.0}, "threshold"),
    ({"threshold": 1.0}, "threshold"),
    ({"threshold": float("nan")}, "threshold"),
    ({"instances": "magic"}, "instances"),
    ({"seed_threshold": 1.2}, "seed_threshold"),
    ({"min_evidence": 1.0}, "min_evidence"),
    ({"min_area": -1}, "min_area"),
    ({"min_area": 2.5}, "min_area"),
    ({"close_gaps": float("inf")}, "close_gaps"),
    ({"grain_size": 0}, "grain_size"),
    ({"grain_size": "big"}, "grain_size"),
    ({"grain_size": float("nan")}, "grain_size"),
    ({"tile": 16}, "tile"),
    ({"overlap": -100}, "overlap"),
    ({"overlap": 256}, "overlap"),
    ({"tta": "yes"}, "tta"),
    ({"precision": "float16"}, "precision must be one of float32, bfloat16"),
    ({"precision": 16}, "precision must be"),
    ({"colour": True}, "unknown segmentation options: colour"),
])
def test_bad_options_are_refused_by_name(changes, words):
    with pytest.raises(ValueError, match=words):
        SegmentOptions().with_(**changes)


def test_options_defaults_and_changes():
    options = SegmentOptions().with_(threshold=None, grain_size=30.0)
    assert options.threshold is None and options.grain_size == 30.0
    assert options.to_dict()["instances"] == "auto"
    assert parse_grain_size(" Auto ") == "auto" and parse_grain_size("42") == 42.0
    with pytest.raises(ValueError, match="grain size"):
        parse_grain_size("large")


def test_distance_target_peaks_at_one_in_every_grain():
    mask = np.zeros((40, 60), bool)
    mask[:, 20] = mask[:, 45] = True  # grains 20, 24 and 14 px wide
    d = distance_target(mask)
    assert d[mask].max() == 0
    for cols in (slice(0, 20), slice(21, 45), slice(46, 60)):
        assert d[:, cols].max() == pytest.approx(1)


def test_watershed_on_maps_closes_a_gap_that_components_miss():
    from napari_labourfree.analysis.instances import grains_from_boundaries

    mask = np.zeros((60, 120), bool)
    mask[:, 59:61] = True
    probability = mask.astype(np.float32)
    probability[25:35, 59:61] = 0.2  # a faint stretch: below any threshold
    distance = distance_target(mask)  # the distance map does not break there
    assert grains_from_boundaries(probability > 0.5).max() == 1
    labels = grains_from_maps(probability, distance)
    assert labels.max() == 2 and labels.min() == 1
    left, right = labels[:, :55], labels[:, 65:]
    assert len(np.unique(left)) == len(np.unique(right)) == 1
    assert grains_from_maps(probability, np.zeros_like(distance)).max() == 0
    with pytest.raises(ValueError, match="same size"):
        grains_from_maps(probability, distance[:10])
    with pytest.raises(ValueError, match="NaN"):
        grains_from_maps(probability * np.nan, distance)


def test_equivalent_diameter_uses_the_jeffries_count():
    labels = square_grid(100, 10, 0)  # 10 x 10 grains: 64 inside, 32 on edges, 4 corners
    count = 64 + 32 / 2 + 4 / 4
    assert equivalent_diameter(labels) == pytest.approx(math.sqrt(4 * 10000 / count / math.pi))
    assert equivalent_diameter(np.zeros((5, 5), int)) is None


def test_candidate_scales_stop_at_64_px():
    assert candidate_scales((2048, 2048)) == [1, 0.5, 0.25, 0.125, 0.0625]
    assert candidate_scales((200, 300)) == [1, 0.5]
    assert candidate_scales((40, 40)) == [1.0]


def test_pick_scale_prefers_agreeing_neighbours_over_an_invented_size():
    # grains of 150 px: at full scale the network draws its own 45 px network (45 px in the
    # original), at 1/2 and 1/4 it sees the real grains (about 150 px)
    estimates = {1: 45.0, 0.5: 140.0, 0.25: 155.0, 0.125: 400.0}
    choice = pick_scale(estimates, (10, 120))
    assert choice.grain_size == pytest.approx(math.sqrt(140 * 155))
    assert choice.scale == pytest.approx(math.sqrt(10 * 120) / choice.grain_size)
    assert choice.agreement == pytest.approx(155 / 140)
    # grains the model sees comfortably at full scale: no rescaling
    assert pick_scale({1: 40.0, 0.5: 42.0}, (10, 120)).scale == 1.0
    # nothing usable: full scale, no size
    none = pick_scale({1: None, 0.5: None}, (10, 120))
    assert none.scale == 1.0 and none.grain_size is None


def test_pick_scale_ignores_estimates_resting_on_a_handful_of_grains():
    # 18 px grains in a 320 px image: at 1/2 and 1/4 the network finds a few pieces, whose
    # sizes (134 and 147 px) agree only because they are bounded by the image itself
    estimates = {1: 18.6, 0.5: 134.0, 0.25: 147.0}
    assert pick_scale(estimates, (9.6, 125)).scale < 0.5  # without the image's shape
    choice = pick_scale(estimates, (9.6, 125), (320, 320))
    assert choice.scale == 1.0 and choice.grain_size == pytest.approx(18.6)
    # the same sizes in a large image are real grains
    large = pick_scale(estimates, (9.6, 125), (2000, 2000))
    assert large.grain_size == pytest.approx(math.sqrt(134 * 147))
    # a third of the side of the square of the same area (600 px here) is the limit
    assert pick_scale({0.5: 205.0, 0.25: 210.0}, (9.6, 125), (300, 1200)).grain_size is None
    assert pick_scale({0.5: 190.0, 0.25: 199.5}, (9.6, 125), (300, 1200)).agreement == 1.05


def test_pick_scale_uses_enlarged_views_for_tiny_grains():
    # 8 px grains: invisible at full scale (the network's own size), agreeing when enlarged
    choice = pick_scale({1: 30.0, 0.5: 60.0, 2: 8.5, 4: 8.1}, (9.6, 125))
    assert choice.grain_size == pytest.approx(math.sqrt(8.5 * 8.1)) and choice.scale == 4


def test_scale_for_clamps():
    assert scale_for(40, (10, 120)) == 1
    assert scale_for(1e5, (10, 120)) == 1 / 16
    assert scale_for(3, (10, 120)) == 4


def test_resize_down_averages_and_up_interpolates():
    image = np.zeros((64, 64), np.float32)
    image[:, 32:] = 1
    small = resize(image, (16, 16))
    assert small.shape == (16, 16) and small[:, :8].max() == 0 and small[:, 8:].min() == 1
    stack = resize(np.stack([image, 1 - image]), (128, 128))
    assert stack.shape == (2, 128, 128) and 0 <= stack.min() and stack.max() <= 1


def test_quality_flags_open_boundaries_and_few_grains():
    labels = square_grid(60, 20, 0)
    lines = np.zeros(labels.shape, np.float32)
    lines[:, 19:50:20] = lines[19:50:20, :] = 1  # the two inner lines each way
    choice = ScaleChoice(1.0, 20.0, 1.05, {}, "auto")
    good = assess(lines, labels, 0.5, choice, (10, 120))
    assert good["warnings"] == [] and good["closed_boundary_fraction"] == 1.0
    assert good["grains"] == 9 and good["grain_size_px"] == 20.0
    # lines that do not close into grains, an uncertain map, one grain
    messy = np.full(labels.shape, 0.5, np.float32)
    one = np.ones_like(labels)
    bad = assess(messy, one, 0.4, ScaleChoice(1.0, 500.0, 2.0, {}, "auto"), (10, 120))
    text = " ".join(bad["warnings"])
    for words in ("only 1 grain", "close into grains", "uncertain", "outside the model's",
                  "differ by 2.0x"):
        assert words in text


def test_weak_boundaries_merge_and_real_ones_with_a_gap_do_not():
    from napari_labourfree.analysis.instances import merge_weak_boundaries

    labels = np.ones((40, 90), np.int32)
    labels[:, 30:60] = 2
    labels[:, 60:] = 3
    probability = np.zeros((40, 90), np.float32)
    probability[:, 29:31] = 0.05   # no evidence between 1 and 2: one grain split in two
    probability[:, 59:61] = 0.9    # a real boundary between 2 and 3 ...
    probability[10:20, 59:61] = 0.0  # ... with a gap in it
    merged = merge_weak_boundaries(labels, probability, 0.25)
    assert merged[0, 0] == merged[0, 40] != merged[0, 70]
    assert len(np.unique(merged)) == 2
    assert (merge_weak_boundaries(labels, probability, 0.0) == labels).all()


def test_the_merge_reads_a_coarse_view_and_the_flood_the_fine_probability():
    """``grains_from_maps(coarse=...)``: a line the fine probability misses but a reduced
    view holds keeps two grains apart; the lines stay where the fine probability puts
    them."""
    from napari_labourfree.analysis.instances import grains_from_maps

    xs = np.mgrid[0:40, 0:80][1]
    # two grains side by side, their cores apart, the line between them at x = 40
    distance = np.clip(1 - np.abs(((xs % 40) - 19.5) / 20), 0, 1).astype(np.float32)
    probability = np.full((40, 80), 0.05, np.float32)
    probability[:, 39:41] = 0.1       # too faint for the merge's 0.25 ...
    coarse = np.full((10, 20), 0.05, np.float32)
    coarse[:, 7:11] = 0.8             # ... but a view at 1/4 saw a wide line about there
    kwargs = {"seed_threshold": 0.6, "min_evidence": 0.25}
    assert grains_from_maps(probability, distance, **kwargs).max() == 1
    both = grains_from_maps(probability, distance, coarse=coarse, **kwargs)
    assert both.max() == 2  # the line stays at x = 40, where the fine probability has it
    assert (both[:, :39] == both[0, 0]).all() and (both[:, 41:] == both[0, -1]).all()
    with pytest.raises(ValueError, match="coarse"):
        grains_from_maps(probability, distance, coarse=np.ones((10, 20, 3)), **kwargs)
    quiet = np.full((10, 20), 0.05, np.float32)  # a coarse view that sees nothing there
    assert grains_from_maps(probability, distance, coarse=quiet, **kwargs).max() == 1


def test_the_merge_reads_the_coarse_view_enlarged_as_resize_does():
    from napari_labourfree.analysis.instances import enlarged_at, merge_weak_boundaries
    from napari_labourfree.segmenter.model import merge_evidence
    from napari_labourfree.segmenter.scale import resize

    rng = np.random.default_rng(3)
    for small, big in [((50, 60), (100, 120)), ((37, 41), (150, 163)), ((1, 5), (4, 20))]:
        coarse = rng.random(small).astype(np.float32)
        rows, cols = np.mgrid[0:big[0], 0:big[1]]
        np.testing.assert_allclose(enlarged_at(coarse, big, rows.ravel(), cols.ravel()),
                                   resize(coarse, big).ravel(), atol=1e-5)
    # the merge with a coarse view = the merge on the larger of the two, as an image
    labels = (np.add.outer(np.arange(60) // 12, np.arange(80) // 16 * 5) + 1).astype(np.int32)
    fine = rng.random((60, 80)).astype(np.float32) * 0.4
    coarse = rng.random((30, 40)).astype(np.float32) * 0.4
    for threshold in (0.2, 0.25, 0.3):
        np.testing.assert_array_equal(
            merge_weak_boundaries(labels, fine, threshold, coarse=coarse),
            merge_weak_boundaries(labels, merge_evidence(fine, coarse), threshold))


def test_maps_at_gives_the_reduced_view_the_merge_reads_too():
    from napari_labourfree._sample_data import synthetic_micrograph
    from napari_labourfree.jobs import run_job
    from napari_labourfree.normalise import to_network
    from napari_labourfree.segmenter.default import resolve_weights
    from napari_labourfree.segmenter.model import Segmenter, tiling
    from napari_labourfree.segmenter.options import SegmentOptions
    from napari_labourfree.segmenter.scale import resize

    (image, _, _), _ = synthetic_micrograph()
    model = Segmenter.load(resolve_weights("default"))
    x = to_network(model.network_input(image[:192, :192]), model.normalisation)
    options = model.resolved(SegmentOptions())
    fine = run_job(model.maps(x, **tiling(options)))
    half = run_job(model.maps(resize(x, (96, 96)), **tiling(options)))
    maps, _, coarse = run_job(model.maps_at(x, 0.5, options))  # grains from the half view
    assert maps.shape == (2, 192, 192)
    np.testing.assert_array_equal(maps[0], fine[0])
    np.testing.assert_array_equal(coarse, half[0])
    maps, _, coarse = run_job(model.maps_at(x, 1.0, options))
    assert coarse is None and np.array_equal(maps, fine)  # nothing changes at full scale


def test_bfloat16_is_faster_arithmetic_with_nearly_the_same_grains():
    """The opt-in bfloat16 network: probability within a few hundredths of float32, and
    almost every grain the same (it is not the default because a few do move)."""
    from sklearn.metrics import adjusted_rand_score

    from napari_labourfree._sample_data import synthetic_micrograph
    from napari_labourfree.jobs import run_job
    from napari_labourfree.segmenter.default import resolve_weights
    from napari_labourfree.segmenter.model import Segmenter

    (image, _, _), _ = synthetic_micrograph()
    model = Segmenter.load(resolve_weights("default"))
    exact = run_job(model.segment(image))
    fast = run_job(model.segment(image, precision="bfloat16"))
    assert fast.options.precision == "bfloat16"
    difference = np.abs(exact.probability - fast.probability)
    assert 0 < difference.max() < 0.05  # it did run in bfloat16, and stayed close
    assert adjusted_rand_score(exact.labels.ravel(), fast.labels.ravel()) > 0.98
