"""Grain statistics, ASTM E112 numbers and grain growth, on shapes with known answers."""

import math

import numpy as np
import pytest
from conftest import square_grid
from skimage.draw import disk

from napari_labourfree.analysis.statistics import (
    astm_g_intercept,
    astm_g_planimetric,
    grain_summary,
    grain_table,
    growth_series,
    lineal_intercepts,
    stack_tables,
)
from napari_labourfree.units import PixelSize


def screen_ellipse(shape, centre, a, b, degrees):
    """An ellipse whose long axis points ``degrees`` anticlockwise from horizontal on screen."""
    rows, cols = np.indices(shape)
    x, y = cols - centre[1], centre[0] - rows  # y up, as a person sees the screen
    t = math.radians(degrees)
    u, v = x * math.cos(t) + y * math.sin(t), -x * math.sin(t) + y * math.cos(t)
    return (u / a) ** 2 + (v / b) ** 2 <= 1


def test_round_grain():
    labels = np.zeros((120, 120), np.uint16)
    labels[disk((60, 60), 40)] = 3
    t = grain_table(labels)
    assert list(t["label"]) == [3]
    assert t["area_px"][0] == pytest.approx(math.pi * 40**2, rel=0.01)
    assert t["equivalent_diameter_px"][0] == pytest.approx(80, rel=0.01)
    assert t["perimeter_px"][0] == pytest.approx(2 * math.pi * 40, rel=0.02)
    assert 0.97 <= t["circularity"][0] <= 1.0
    assert t["aspect_ratio"][0] == pytest.approx(1, abs=0.01)
    assert not t["touches_border"][0]


@pytest.mark.parametrize("radius", [2, 3, 4, 5, 8])
def test_circularity_never_exceeds_one_even_for_tiny_disks(radius):
    labels = np.zeros((30, 30), np.uint8)
    labels[disk((15, 15), radius)] = 1
    assert grain_table(labels)["circularity"][0] <= 1.0


def test_elongated_grains_have_low_circularity_and_known_orientation():
    labels = np.zeros((200, 200), np.uint32)
    labels[screen_ellipse(labels.shape, (60, 100), 60, 15, 30)] = 1
    labels[screen_ellipse(labels.shape, (150, 100), 40, 10, -60)] = 2
    t = grain_table(labels)
    assert t["aspect_ratio"] == pytest.approx([4, 4], rel=0.03)
    assert t["orientation_deg"] == pytest.approx([30, -60], abs=1)
    # an ellipse of axis ratio 4 has circularity 0.54 (Ramanujan's perimeter)
    assert t["circularity"] == pytest.approx([0.54, 0.54], abs=0.04)


def test_units_carry_into_column_names_and_values():
    labels = np.zeros((50, 50), np.uint8)
    labels[10:20, 10:30] = 1
    labels[0:5, 0:5] = 2
    t = grain_table(labels, PixelSize(0.5, "µm"))
    assert t["area_px"].tolist() == [200, 25]
    assert t["area_um2"].tolist() == [50.0, 6.25]
    assert t["equivalent_diameter_um"] == pytest.approx(t["equivalent_diameter_px"] * 0.5)
    assert t["touches_border"].tolist() == [False, True]
    names = list(t)
    assert names.index("area_um2") == names.index("area_px") + 1
    assert "area_nm2" in grain_table(labels, PixelSize(3, "nm"))


def test_summary_leaves_out_border_grains_unless_asked():
    labels = np.zeros((50, 50), np.uint8)
    labels[10:20, 10:20] = 1  # 100 px
    labels[30:34, 30:34] = 2  # 16 px
    labels[0:10, 0:10] = 3  # border, 100 px
    s = grain_summary(labels)
    assert (s["grains"], s["grains_total"], s["grains_touching_border"]) == (2, 3, 1)
    assert s["mean_area_px"] == 58 and s["median_area_px"] == 58 and s["std_area_px"] == 42
    assert s["astm_g_planimetric"] is None  # no pixel size, no G
    s = grain_summary(labels, include_border=True)
    assert s["grains"] == 3 and s["mean_area_px"] == pytest.approx(216 / 3)


def test_astm_formulas_match_the_standard_table():
    # ASTM E112 Table 4: G, grains/mm^2 at 1x, mean intercept (mm)
    for g, n_a, intercept in [(1, 15.50, 0.2263), (5, 248.0, 0.0566), (8, 1984, 0.0200)]:
        assert astm_g_planimetric(n_a) == pytest.approx(g, abs=0.01)
        assert astm_g_intercept(intercept) == pytest.approx(g, abs=0.02)


def test_planimetric_g_counts_cut_grains_as_ASTM_does():
    # 10 px squares shifted by half a cell: 81 whole grains, 36 halves, 4 quarters = 100
    labels = square_grid(100, 10, 5)
    s = grain_summary(labels, pixel_size=PixelSize(1, "um"))
    # 100 grains per (0.1 mm)^2 = 10^4 per mm^2
    assert s["astm_g_planimetric"] == pytest.approx(3.321928 * 4 - 2.954, abs=1e-6)


def test_intercepts_on_a_square_grid():
    labels = square_grid(200, 10, 5)
    lines = lineal_intercepts(labels, max_lines=1000)
    for angle in (0, 90):
        length, crossings = lines[angle]
        assert length / crossings == pytest.approx(10, rel=0.01)
    for angle in (45, 135):  # a diagonal meets both line families: 10 / (cos + sin)
        length, crossings = lines[angle]
        # (+6 %: a digital diagonal through a grid corner counts one crossing, not two)
        assert length / crossings == pytest.approx(10 / math.sqrt(2), rel=0.07)
    s = grain_summary(labels, pixel_size=PixelSize(2, "um"))
    assert s["mean_intercept_0deg_px"] == pytest.approx(10, rel=0.01)
    assert s["mean_intercept_um"] == pytest.approx(2 * s["mean_intercept_px"])
    assert s["astm_g_intercept"] == pytest.approx(
        astm_g_intercept(s["mean_intercept_px"] * 0.002))
    with pytest.raises(ValueError, match="45 degrees"):
        lineal_intercepts(labels, angles=(30,))


def test_thick_boundary_lines_do_not_lengthen_intercepts():
    labels = square_grid(100, 10, 5)
    thick = labels.copy()
    thick[np.isin(np.arange(100) % 10, (4, 5)), :] = 0  # 2-px boundary lines
    thick[:, np.isin(np.arange(100) % 10, (4, 5))] = 0
    for angle in (0, 90):
        assert lineal_intercepts(thick)[angle] == lineal_intercepts(labels)[angle]


def test_bad_label_images_are_refused():
    with pytest.raises(ValueError, match="2-D"):
        grain_table(np.zeros((2, 5, 5), np.uint8))
    with pytest.raises(ValueError, match="integers"):
        grain_table(np.zeros((5, 5), np.float32))
    with pytest.raises(ValueError, match="negative"):
        grain_table(-np.ones((5, 5), np.int32))


def test_empty_image_gives_an_empty_table_and_nan_means():
    t = grain_table(np.zeros((10, 10), np.uint8))
    assert all(len(v) == 0 for v in t.values())
    s = grain_summary(np.zeros((10, 10), np.uint8))
    assert s["grains"] == 0 and math.isnan(s["mean_area_px"])


def test_growth_series_follows_coarsening():
    frames = np.stack([square_grid(60, c, 0) for c in (5, 10, 20)])
    series = growth_series(frames, include_border=True)
    assert series["frame"].tolist() == [0, 1, 2]
    assert series["grains"].tolist() == [144, 36, 9]
    assert series["mean_area_px"].tolist() == [25, 100, 400]
    assert series["std_area_px"].tolist() == [0, 0, 0]
    with_units = growth_series(frames, PixelSize(0.1, "um"), include_border=True)
    assert with_units["mean_area_um2"] == pytest.approx([0.25, 1, 4])
    with pytest.raises(ValueError, match="stack"):
        growth_series(frames[0])


def test_per_frame_tables_stack_into_one_with_a_frame_column():
    first, second = square_grid(64, 16), square_grid(64, 32)
    tables = [grain_table(first), grain_table(second)]
    stacked = stack_tables(tables)
    assert list(stacked)[:2] == ["frame", "label"]
    counts = [len(t["label"]) for t in tables]
    assert counts[0] > counts[1] > 0
    assert stacked["frame"].tolist() == [0] * counts[0] + [1] * counts[1]
    assert np.array_equal(stacked["area_px"], np.r_[tables[0]["area_px"], tables[1]["area_px"]])
    empty = grain_table(np.zeros((8, 8), int))
    assert stack_tables([empty, tables[1]])["frame"].tolist() == [1] * counts[1]
    with pytest.raises(ValueError, match="at least one"):
        stack_tables([])
    with pytest.raises(ValueError, match="frame 1's grain table has columns"):
        stack_tables([tables[0], grain_table(second, PixelSize(0.5, "um"))])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint64, np.int32])
def test_the_vectorised_ellipse_columns_are_regionprops_own(dtype):
    """Centroid, axes and orientation come from moments summed for all grains at once;
    they must equal skimage's per-region regionprops (its definitions, its conventions)."""
    from scipy import ndimage as ndi
    from skimage import measure

    rng = np.random.default_rng(3)
    labels = ndi.label(rng.random((300, 260)) > 0.45)[0] % 200  # odd, touching shapes
    labels = labels.astype(dtype)
    table = grain_table(labels)
    props = measure.regionprops_table(labels.astype(np.int64), properties=(
        "label", "centroid", "axis_major_length", "axis_minor_length", "orientation"))
    assert table["label"].tolist() == props["label"].tolist()
    np.testing.assert_allclose(table["centroid_y_px"], props["centroid-0"], atol=1e-9)
    np.testing.assert_allclose(table["centroid_x_px"], props["centroid-1"], atol=1e-9)
    np.testing.assert_allclose(table["major_axis_px"], props["axis_major_length"], atol=1e-9)
    np.testing.assert_allclose(table["minor_axis_px"], props["axis_minor_length"], atol=1e-9)
    expected = np.degrees(props["orientation"]) + 90.0
    expected = np.where(expected > 90, expected - 180, expected)
    round_grains = np.isclose(props["axis_major_length"], props["axis_minor_length"])
    np.testing.assert_allclose(table["orientation_deg"][~round_grains],
                               expected[~round_grains], atol=1e-7)
