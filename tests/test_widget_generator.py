"""The microstructure generator dock widget, driven as a user would."""

import json

import numpy as np
import pytest

from napari_labourfree._widgets import _base as base_module
from napari_labourfree._widgets.generator import MicrostructureGenerator


@pytest.fixture
def widget(make_napari_viewer):
    viewer = make_napari_viewer()
    w = MicrostructureGenerator(viewer)
    w.image_height.value, w.image_width.value, w.grains.value = 48, 64, 10
    w.steps.value, w.snapshot_every.value, w.fast.value = 100, 50, False
    w.device.value = "cpu"
    return viewer, w


def wait_done(qtbot, w, timeout=60_000):
    qtbot.waitUntil(lambda: w._worker is None, timeout=timeout)


def test_docks_from_the_manifest(make_napari_viewer):
    viewer = make_napari_viewer()
    dock, widget = viewer.window.add_plugin_dock_widget(
        "napari-labourfree", "Microstructure generator")
    assert isinstance(widget, MicrostructureGenerator)


@pytest.mark.slow
def test_preview_adds_phi_boundaries_and_grains_with_a_time_axis(widget, qtbot):
    viewer, w = widget
    w.preview.clicked.emit()
    assert not w.preview.enabled and w.cancel.enabled  # no second job while one runs
    wait_done(qtbot, w)
    phi = viewer.layers["phi [microstructure]"]
    grains = viewer.layers["grains [microstructure]"]
    bounds = viewer.layers["boundaries [microstructure]"]
    assert phi.data.shape == (3, 48, 64)  # steps 0, 50, 100
    assert grains.data.shape == bounds.data.shape == (3, 48, 64)
    assert len(np.unique(grains.data[0])) == 10
    assert set(np.unique(bounds.data)) == {0, 1}
    assert w.preview.enabled and not w.cancel.enabled
    assert w.progress.value == w.progress.max == 100
    # the slider counts simulation steps, is labelled so, and rests on the final state
    assert viewer.dims.axis_labels[-3] == "step"
    assert tuple(phi.scale)[0] == 50
    assert viewer.dims.point[-3] == 100 and viewer.dims.current_step[-3] == 2

    # Running again refreshes the plugin's own layers instead of piling up new ones,
    # and leaves the user's order of layers alone.
    viewer.add_image(np.zeros((48, 64)), name="mine")
    viewer.layers.move(viewer.layers.index("mine"), 0)
    order = [layer.name for layer in viewer.layers]
    w.seed.value = 3
    w.preview.clicked.emit()
    wait_done(qtbot, w)
    assert [layer.name for layer in viewer.layers] == order


def test_a_users_layer_with_the_same_name_is_not_replaced(widget, qtbot):
    viewer, w = widget
    mine = viewer.add_image(np.ones((5, 5)), name="phi [microstructure]")
    w.preview.clicked.emit()
    wait_done(qtbot, w)
    assert mine in viewer.layers and mine.data.shape == (5, 5)


def test_generate_data_set_writes_files(widget, qtbot, tmp_path):
    viewer, w = widget
    w.count.value, w.snapshot_every.value = 2, 0
    w.folder.value = tmp_path / "set"
    w.generate.clicked.emit()
    wait_done(qtbot, w)
    meta = json.loads((tmp_path / "set" / "meta.json").read_text())
    assert meta["completed"] == 2
    assert len(list((tmp_path / "set" / "labels").glob("*.tif"))) == 2


def test_cancel_stops_the_job_and_the_widget_stays_usable(widget, qtbot, tmp_path):
    viewer, w = widget
    w.count.value, w.steps.value, w.snapshot_every.value = 50, 400, 0
    w.folder.value = tmp_path / "set"
    w.generate.clicked.emit()
    qtbot.waitUntil(lambda: w.progress.value > 0, timeout=30_000)
    w.cancel.clicked.emit()
    wait_done(qtbot, w)
    meta = json.loads((tmp_path / "set" / "meta.json").read_text())
    assert meta["completed"] < 50 and not meta["complete"]
    assert w.generate.enabled and w.preview.enabled
    assert not (tmp_path / "set" / ".labourfree.lock").exists()  # cancelled: folder let go


def test_a_folder_in_use_is_a_notification(widget, monkeypatch, tmp_path):
    from napari_labourfree.io.folders import FolderLock

    viewer, w = widget
    errors = []
    monkeypatch.setattr(base_module, "show_error", errors.append)
    w.folder.value = tmp_path / "busy"
    with FolderLock(tmp_path / "busy", "simulate"):
        w.generate.clicked.emit()
    assert errors and "is in use by `labourfree simulate`" in errors[0]
    assert w._worker is None and w.generate.enabled


@pytest.mark.parametrize("setup, words", [
    (dict(grains=1000), "do not fit"),
    (dict(folder=""), "choose an output folder"),
])
def test_bad_input_is_a_notification_not_a_crash(widget, monkeypatch, setup, words):
    viewer, w = widget
    errors = []
    monkeypatch.setattr(base_module, "show_error", errors.append)
    for name, value in setup.items():
        # An untouched folder field is empty text (its .value would resolve "" to cwd).
        (w.folder.line_edit if name == "folder" else getattr(w, name)).value = value
    (w.generate if "folder" in setup else w.preview).clicked.emit()
    assert errors and words in errors[0]
    assert w._worker is None and w.preview.enabled


def test_sample_data(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-labourfree", "microstructure")
    assert {"phi [sample]", "boundaries [sample]", "grains [sample]"} <= {l.name for l in viewer.layers}
    assert viewer.layers["grains [sample]"].data.max() == 40


def test_manifest_is_valid():
    from npe2 import PluginManifest

    manifest = PluginManifest.from_distribution("napari-labourfree")
    manifest.validate_imports()
    assert {w.display_name for w in manifest.contributions.widgets} >= {"Microstructure generator"}
