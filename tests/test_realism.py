"""Realism measures: histograms, entropy, SSIM, t-SNE of patch features."""

import numpy as np
import pytest

from napari_labourfree.analysis.realism import (
    FEATURE_NAMES,
    compare_groups,
    histogram_distance,
    intensity_histogram,
    patch_entropy,
    patch_features,
    ssim,
    to_unit_range,
)


def test_unit_range_by_dtype():
    assert to_unit_range(np.full((4, 4), 255, np.uint8)).max() == 1
    assert to_unit_range(np.full((4, 4), 255, np.uint16)).max() == pytest.approx(255 / 65535)
    assert to_unit_range(np.full((4, 4), 0.3, np.float32)).max() == pytest.approx(0.3)
    scaled = to_unit_range(np.array([[-1.0, 1.0]]))
    assert scaled.tolist() == [[0.0, 1.0]]
    with pytest.raises(ValueError, match="NaN"):
        to_unit_range(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="2-D"):
        to_unit_range(np.zeros((3, 4, 4)))


def test_entropy_in_bits():
    flat = np.full((1, 16, 16), 0.5)
    two = np.zeros((1, 16, 16))
    two[0, :8] = 0.99
    uniform = (np.arange(256) / 256).reshape(1, 16, 16)
    assert patch_entropy(np.concatenate([flat, two, uniform])) == pytest.approx([0, 1, 8])


def test_histogram_distance_zero_for_same_and_positive_for_different():
    rng = np.random.default_rng(0)
    a = [rng.random((64, 64)) * 0.5]
    b = [0.5 + rng.random((64, 64)) * 0.5]
    _, ha = intensity_histogram(a)
    _, hb = intensity_histogram(b)
    assert histogram_distance(ha, ha) == {"wasserstein": 0.0, "jensen_shannon": 0.0}
    d = histogram_distance(ha, hb)
    assert d["wasserstein"] == pytest.approx(0.5, abs=0.02)  # a shift by half the range
    assert d["jensen_shannon"] == pytest.approx(1.0, abs=1e-6)  # disjoint supports


def test_ssim():
    rng = np.random.default_rng(1)
    a = rng.random((64, 64)).astype(np.float32)
    assert ssim(a, a) == pytest.approx(1.0)
    assert ssim(a, rng.random((64, 64)).astype(np.float32)) < 0.2
    with pytest.raises(ValueError, match="one size"):
        ssim(a, a[:32])


def test_features_and_tsne_separate_textured_from_flat_patches():
    rng = np.random.default_rng(2)
    textured = [(rng.random((96, 96)) * 255).astype(np.uint8) for _ in range(2)]
    smooth = [np.full((96, 96), 0.7, np.float32) + 0.02 * rng.random((96, 96)).astype(np.float32)
              for _ in range(2)]
    report = compare_groups({"real": textured, "simulation": smooth}, patch_size=32,
                            patches_per_image=10)
    assert report.features.shape == (40, len(FEATURE_NAMES))
    assert report.embedding.shape == (40, 2)
    assert report.entropy["real"].mean() > report.entropy["simulation"].mean() + 3
    rows = {row["group"]: row for row in report.table}
    assert rows["real"]["wasserstein_to_real"] == 0.0
    assert rows["simulation"]["wasserstein_to_real"] > 0.1
    # each patch's nearest neighbour in the embedding comes from its own group
    e = report.embedding
    d = np.linalg.norm(e[:, None] - e[None], axis=-1) + np.eye(len(e)) * 1e9
    assert (report.origin[d.argmin(1)] == report.origin).mean() > 0.9


def test_patch_features_are_finite_on_flat_patches():
    assert np.isfinite(patch_features(np.full((3, 16, 16), 0.5))).all()


def test_compare_groups_refuses_empty_groups_and_small_images():
    with pytest.raises(ValueError, match="at least one image"):
        compare_groups({"real": []})
    with pytest.raises(ValueError, match="smaller than"):
        compare_groups({"real": [np.zeros((16, 16))]}, patch_size=32, tsne=False)
