"""Each metric on hand-made cases whose values are worked out by hand."""

import math

import numpy as np
import pytest

from napari_labourfree.analysis.metrics import (
    adjusted_rand_index,
    average_precision,
    boundary_f1,
    evaluate_pair,
    mean_over_images,
    pixel_iou,
)


def quadrants(n=40):
    t = np.zeros((n, n), np.uint32)
    h = n // 2
    t[:h, :h], t[:h, h:], t[h:, :h], t[h:, h:] = 1, 2, 3, 4
    return t


def cross(n=50, at=25):
    m = np.zeros((n, n), bool)
    m[at, :] = True
    m[:, at] = True
    return m


def test_identical_masks_score_one_everywhere():
    r = evaluate_pair(cross(), cross())
    for key in ("iou", "mean_iou", "boundary_f1", "ari", "ap"):
        assert r[key] == 1.0, key
    assert r["count_error"] == 0 and r["grains_pred"] == r["grains_true"] == 4


def test_shift_by_one_pixel_is_within_tolerance_two():
    shifted = np.roll(cross(), 1, axis=(0, 1))
    assert boundary_f1(shifted, cross(), tolerance=2)["boundary_f1"] == 1.0
    assert boundary_f1(shifted, cross(), tolerance=0)["boundary_f1"] < 0.1
    assert pixel_iou(shifted, cross())["boundary_iou"] < 0.1
    assert pixel_iou(shifted, cross())["iou"] < 1.0


def test_thick_truth_lines_are_thinned_before_matching():
    thick = cross() | np.roll(cross(), 1, (0, 1)) | np.roll(cross(), -1, (0, 1))
    assert boundary_f1(cross(), thick)["boundary_f1"] == 1.0


def test_missing_half_of_the_boundaries_halves_recall():
    pred = np.zeros((50, 50), bool)
    pred[25, :] = True
    r = boundary_f1(pred, cross())
    assert r["boundary_precision"] == 1.0
    # the 99 true line pixels: the 50 of the row, plus 4 of the column within 2 px of it
    assert r["boundary_recall"] == pytest.approx(54 / 99)
    assert r["boundary_f1"] == pytest.approx(2 * (54 / 99) / (1 + 54 / 99))


def test_empty_prediction():
    r = evaluate_pair(np.zeros((50, 50), bool), cross())
    assert r["boundary_f1"] == 0.0 and r["ap"] == 0.0
    assert r["iou"] == pytest.approx(1 - 99 / 2500)  # most pixels are interior anyway
    assert r["count_error"] == pytest.approx(3 / 4)
    both_empty = evaluate_pair(np.zeros((9, 9), bool), np.zeros((9, 9), bool))
    assert both_empty["boundary_f1"] == 1.0


def test_one_grain_split_in_half_by_hand():
    truth = quadrants(40)
    pred = truth.copy()
    pred[:20, :10] = 5  # grain 1 split into two halves of 200 px
    # AP: the halves have IoU 0.5 with grain 1, not above any threshold -> at every
    # threshold TP = 3, FP = 2, FN = 1 -> 3 / 6
    assert average_precision(pred, truth) == pytest.approx(0.5)
    # ARI from the contingency table: rows 400 x 4 grains, split row 200 + 200
    n = 1600
    index = 2 * math.comb(200, 2) + 3 * math.comb(400, 2)
    rows = 4 * math.comb(400, 2)
    cols = index
    expected = rows * cols / math.comb(n, 2)
    ari = (index - expected) / ((rows + cols) / 2 - expected)
    assert adjusted_rand_index(pred, truth) == pytest.approx(ari)
    assert ari < 1


def test_uneven_split_matches_at_low_thresholds_only():
    truth = quadrants(40)
    pred = truth.copy()
    pred[:20, :8] = 5  # 160 + 240 px: the larger part has IoU 0.6 with grain 1
    # t = 0.50, 0.55: TP 4, FP 1, FN 0 -> 0.8; t >= 0.60: TP 3, FP 2, FN 1 -> 0.5
    assert average_precision(pred, truth) == pytest.approx((2 * 0.8 + 8 * 0.5) / 10)


def test_merged_grains_count_and_area_errors():
    truth = quadrants(40)
    pred = truth.copy()
    pred[pred == 2] = 1
    r = evaluate_pair(None, np.zeros((40, 40), bool), pred_labels=pred, true_labels=truth)
    assert r["grains_pred"] == 3 and r["grains_true"] == 4
    assert r["count_error"] == pytest.approx(0.25)


def test_ari_ignores_the_width_of_predicted_boundaries():
    truth = quadrants(40)
    pred = truth.copy()
    pred[19:21, :] = 0  # a thick predicted line: the pixels go to the nearest grain
    assert adjusted_rand_index(pred, truth) == pytest.approx(1.0)


def test_size_mismatch_is_an_error():
    with pytest.raises(ValueError, match="differ in size"):
        evaluate_pair(cross(50), cross(40, 20))


def test_mean_over_images_skips_nan():
    means = mean_over_images([{"a": 1.0, "b": float("nan")}, {"a": 0.5, "b": 0.2}])
    assert means == {"a": 0.75, "b": 0.2}
