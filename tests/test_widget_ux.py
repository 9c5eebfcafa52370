"""Numbers a metallographer can trust in the widgets, and a plugin that behaves like napari:
exact pixel sizes, layer units, no surprise measurements, a status that tells the truth,
themed plots and outlines over the micrograph."""

import numpy as np
import pytest
from conftest import square_grid

from napari_labourfree._widgets import _base
from napari_labourfree._widgets.grain_stats import GrainStatsWidget
from napari_labourfree._widgets.segment import SegmentWidget


@pytest.fixture(scope="module")
def micrograph():
    from napari_labourfree._sample_data import synthetic_micrograph

    return synthetic_micrograph()[0][0][:128, :128]


def wait(qtbot, w, timeout=60_000):
    qtbot.waitUntil(lambda: not w.busy, timeout=timeout)


def measure(qtbot, viewer, layer, **fields):
    w = GrainStatsWidget(viewer)
    w.grains.value = layer
    for name, value in fields.items():
        getattr(w, name).value = value
    w.measure.clicked.emit()
    wait(qtbot, w)
    return w


@pytest.mark.parametrize("typed, unit, column, factor", [
    ("0.2252", "um", "area_um2", 0.2252**2),  # a spin box made this 0.23 (+4.4 % in areas)
    ("0.00345", "mm", "area_mm2", 0.00345**2),  # ... and this 0.0: pixels only
    ("3.1", "nm", "area_nm2", 3.1**2),
])
def test_a_typed_pixel_size_is_kept_exactly(make_napari_viewer, qtbot, errors, typed, unit,
                                            column, factor):
    viewer = make_napari_viewer()
    layer = viewer.add_labels(square_grid(60, 10, 5), name="grid")
    w = measure(qtbot, viewer, layer, pixel_size=typed, unit=unit)
    table = w._result[0]
    assert np.allclose(table[column], table["area_px"] * factor, rtol=1e-12)
    assert not errors


def test_a_bad_typed_pixel_size_is_named(make_napari_viewer, errors):
    viewer = make_napari_viewer()
    layer = viewer.add_labels(square_grid(60, 10, 5), name="grid")
    w = GrainStatsWidget(viewer)
    w.grains.value, w.pixel_size.value = layer, "0,2"
    w.measure.clicked.emit()
    assert errors and "pixel size '0,2' is not a number" in errors[0]
    assert not w.busy


def test_layer_scale_is_read_in_the_layers_units(make_napari_viewer, qtbot, errors):
    viewer = make_napari_viewer()
    layer = viewer.add_labels(square_grid(60, 10, 5), name="grid", scale=(225.2, 225.2),
                              units=("nm", "nm"))
    w = measure(qtbot, viewer, layer, unit="um")  # the widget's unit must not win
    table, _, _, size, _ = w._result
    assert (size.value, size.unit) == (225.2, "nm")
    assert np.allclose(table["area_nm2"], table["area_px"] * 225.2**2)
    assert "area_um2" not in table


def test_grain_statistics_leaves_a_users_mask_alone_and_follows_its_own_layers(
        make_napari_viewer, qtbot, errors):
    viewer = make_napari_viewer()
    mask = viewer.add_labels((square_grid(40, 10, 0) % 2).astype(np.uint8), name="my mask")
    w = GrainStatsWidget(viewer)
    assert not w.busy and w._result is None  # not measured on open
    assert "area_px" not in mask.features.columns
    grains = _base.show_layer(viewer, square_grid(60, 10, 5), "grains [x]", "labels")
    w.grains.value = grains  # the plugin's own layer: measured at once
    wait(qtbot, w)
    assert w.table.rowCount() == 49
    grains.data = square_grid(60, 20, 5)  # segmented again: the table follows
    wait(qtbot, w)
    qtbot.waitUntil(lambda: w.table.rowCount() == 16, timeout=10_000)
    assert len(grains.features) == 16
    w2 = GrainStatsWidget(viewer)  # a new one prefers the plugin's grains
    assert w2.grains.value is grains
    wait(qtbot, w2)
    assert not errors


def test_plots_follow_the_napari_theme_and_leave_no_empty_panel(make_napari_viewer, qtbot):
    from matplotlib.colors import to_hex

    from napari_labourfree._widgets._plots import theme_colours

    viewer = make_napari_viewer()
    layer = viewer.add_labels(square_grid(60, 10, 5), name="grid")
    w = measure(qtbot, viewer, layer)
    assert len(w.figure.axes) == 2  # one image: area and circularity, no empty growth panel
    for theme in ("dark", "light"):
        viewer.theme = theme
        background, text = theme_colours(viewer)
        assert to_hex(w.figure.get_facecolor()) == background
        assert to_hex(w.figure.axes[0].xaxis.label.get_color()) == text
    assert w.figure.axes[0].get_xlabel() == "grain area (px²)"


def test_segment_keeps_units_draws_outlines_and_shows_the_table(make_napari_viewer, qtbot,
                                                                micrograph, errors):
    viewer = make_napari_viewer()
    viewer.add_image(micrograph, name="steel", scale=(225.2, 225.2), units=("nm", "nm"))
    w = SegmentWidget(viewer)
    w.device.value, w.grain_size.value = "cpu", "off"
    w.run.clicked.emit()
    wait(qtbot, w)
    grains = viewer.layers["grains [steel]"]
    probability = viewer.layers["boundary probability [steel]"]
    assert [str(u) for u in grains.units] == ["nanometer", "nanometer"]
    assert [str(u) for u in probability.units] == ["nanometer", "nanometer"]
    assert grains.contour > 0 and not probability.visible
    assert grains.metadata["pixel_size"]["unit"] == "nm"
    # the docked one (napari hands back the widget it already has)
    _, stats = viewer.window.add_plugin_dock_widget("napari-labourfree", "Grain statistics")
    assert isinstance(stats, GrainStatsWidget)
    wait(qtbot, stats)
    assert stats.grains.value is grains and stats.table.rowCount() == grains.data.max()
    assert not errors


def test_status_and_progress_go_back_to_idle_after_an_error(make_napari_viewer, qtbot,
                                                            micrograph, errors, monkeypatch):
    from napari_labourfree._widgets import segment
    from napari_labourfree.jobs import Progress

    def failing(*args):
        yield Progress(1, 2, "segmenting")
        raise ValueError("the network ran out of memory")

    monkeypatch.setattr(segment, "_segment_frames", failing)
    viewer = make_napari_viewer()
    viewer.add_image(micrograph, name="steel")
    w = SegmentWidget(viewer)
    w.device.value = "cpu"
    w.run.clicked.emit()
    wait(qtbot, w)
    assert errors and "ran out of memory" in errors[0]
    assert w.status.value == "failed: the network ran out of memory"
    assert w.progress.value == 0 and w.run.enabled


def test_a_tiff_opens_at_its_pixel_size_and_grains_save_with_their_table(
        make_napari_viewer, qtbot, tmp_path, micrograph):
    import tifffile

    from napari_labourfree.io.tables import read_csv

    path = tmp_path / "steel.tif"
    tifffile.imwrite(path, micrograph, imagej=True, resolution=(1 / 0.2252, 1 / 0.2252),
                     metadata={"unit": "micron"})
    viewer = make_napari_viewer()
    [layer] = viewer.open(path, plugin="napari-labourfree")
    assert tuple(layer.scale) == pytest.approx((0.2252, 0.2252))
    assert [str(u) for u in layer.units] == ["micrometer", "micrometer"]
    grains = viewer.add_labels(square_grid(128, 16, 5), scale=layer.scale, units=layer.units,
                               name="grains")
    viewer.layers.selection = {grains}
    written = viewer.layers.save(str(tmp_path / "grains.tif"), selected=True,
                                 plugin="napari-labourfree")
    assert [p.split("/")[-1] for p in written] == ["grains.tif", "grains_grains.csv"]
    table = read_csv(tmp_path / "grains_grains.csv")
    assert np.allclose(table["area_um2"], table["area_px"] * 0.2252**2)
    [again] = viewer.open(tmp_path / "grains.tif", plugin="napari-labourfree")
    assert tuple(again.scale) == pytest.approx((0.2252, 0.2252))


ALL_WIDGETS = ["Microstructure generator", "Style (CycleGAN)", "Segmenter (U-Net)", "Segment",
               "Grain statistics", "Compare synthetic vs real"]


@pytest.mark.parametrize("name", ALL_WIDGETS)
def test_every_field_has_a_tooltip_and_the_widget_a_help_page(make_napari_viewer, monkeypatch,
                                                              name):
    from magicgui.widgets import PushButton
    from magicgui.widgets.bases import ValueWidget

    viewer = make_napari_viewer()
    _, w = viewer.window.add_plugin_dock_widget("napari-labourfree", name)
    missing = [name for name, part in w.fields.items()
               if isinstance(part, ValueWidget) and not isinstance(part, PushButton)
               and name not in ("progress", "status", "history", "summary", "table")
               and not part.tooltip]
    assert not missing, f"{name}: fields without a tooltip: {missing}"
    opened = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    w.help.clicked.emit()
    assert opened and opened[0].endswith("docs/widgets.md#" + {
        "Style (CycleGAN)": "style-cyclegan", "Segmenter (U-Net)": "segmenter-u-net",
        "Compare synthetic vs real": "compare-synthetic-vs-real"}.get(
            name, name.lower().replace(" ", "-")))


@pytest.mark.parametrize("name", ALL_WIDGETS)
def test_docks_are_compact_with_advanced_options_folded(make_napari_viewer, name):
    from qtpy.QtWidgets import QApplication, QLabel

    viewer = make_napari_viewer()
    _, w = viewer.window.add_plugin_dock_widget("napari-labourfree", name)
    QApplication.processEvents()
    hint = w.native.sizeHint()
    assert hint.height() <= 520 and hint.width() <= 460, (hint.width(), hint.height())
    assert w._sections and not any(s.box.isExpanded() for s in w._sections)
    # every labelled field shows its label (a part named `labels` used to hide them)
    texts = {label.text() for label in w.native.findChildren(QLabel)}
    for part in w.fields.values():
        if getattr(part, "label", "") and type(part).__name__ not in ("CheckBox",
                                                                      "PushButton", "Label"):
            assert part.label in texts, part.label


def test_segment_a_whole_folder_from_the_gui(make_napari_viewer, qtbot, tmp_path, micrograph,
                                             errors, monkeypatch):
    import tifffile

    from napari_labourfree._widgets import segment

    warnings = []
    monkeypatch.setattr(segment, "show_warning", warnings.append)
    folder = tmp_path / "micrographs"
    folder.mkdir()
    tifffile.imwrite(folder / "a.tif", micrograph)
    tifffile.imwrite(folder / "b.tif", micrograph[:96, :96])
    tifffile.imwrite(folder / "bad.tif", np.full((64, 64), np.nan, np.float32))
    viewer = make_napari_viewer()
    w = SegmentWidget(viewer)
    w.device.value, w.grain_size.value, w.pixel_size.value = "cpu", "off", "0.5"
    w.folder.value, w.results.value = folder, tmp_path / "results"
    w.run_folder.clicked.emit()
    wait(qtbot, w)
    assert w.status.value == f"wrote 2 of 3 segmentation(s) to {tmp_path / 'results'}"
    assert warnings and "bad.tif" in warnings[0]
    for stem in ("a", "b"):
        for suffix in ("labels.tif", "grains.csv", "grains_summary.json", "overlay.png"):
            assert (tmp_path / "results" / f"{stem}_{suffix}").is_file()
    from napari_labourfree.io.tables import read_csv

    table = read_csv(tmp_path / "results" / "a_grains.csv")
    assert np.allclose(table["area_um2"], table["area_px"] * 0.25)
    # again: refused unless replacing is allowed; the micrographs folder itself is refused
    w.run_folder.clicked.emit()
    assert errors and "already holds results" in errors[-1]
    w.results.value = folder
    w.run_folder.clicked.emit()
    assert "is the input folder" in errors[-1] and not w.busy
