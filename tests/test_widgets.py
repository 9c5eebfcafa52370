"""The Style, Segmenter, Segment, Grain statistics and Compare dock widgets, driven as a
user would, plus one end-to-end run through all of them."""

import numpy as np
import pytest
import tifffile

from napari_labourfree._widgets._shared import shared
from napari_labourfree._widgets.compare import CompareWidget
from napari_labourfree._widgets.grain_stats import GrainStatsWidget
from napari_labourfree._widgets.segment import SegmentWidget
from napari_labourfree._widgets.segmenter_training import SegmenterTrainingWidget
from napari_labourfree._widgets.style import PREVIEW, StyleWidget
from napari_labourfree.io.tables import read_csv
from napari_labourfree.jobs import run_job
from napari_labourfree.segmenter.train import segmenter_config, train_segmenter

WIDGETS = {
    "Style (CycleGAN)": StyleWidget,
    "Segmenter (U-Net)": SegmenterTrainingWidget,
    "Segment": SegmentWidget,
    "Grain statistics": GrainStatsWidget,
    "Compare synthetic vs real": CompareWidget,
}


@pytest.fixture(scope="module")
def unet(tiny_sims, tmp_path_factory):
    out = tmp_path_factory.mktemp("w") / "u.safetensors"
    config = segmenter_config("fast", epochs=2, steps_per_epoch=40, lr=3e-3, depth=2, base=8,
                              crop_size=48, val_fraction=0.2)
    return run_job(train_segmenter(tiny_sims, out, config))


def wait(qtbot, w, timeout=60_000):
    qtbot.waitUntil(lambda: not w.busy, timeout=timeout)


@pytest.mark.parametrize("name", list(WIDGETS))
def test_docks_from_the_manifest(make_napari_viewer, name):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-labourfree", name)
    assert isinstance(widget, WIDGETS[name])


def test_segment_2d_layer(make_napari_viewer, qtbot, tiny_sims, unet, errors):
    viewer = make_napari_viewer()
    image = tifffile.imread(sorted((tiny_sims / "images").glob("*.tif"))[0])
    layer = viewer.add_image(image, name="micro", scale=(0.5, 0.5))
    w = SegmentWidget(viewer)
    w.use_default.value = False
    w.weights.value = unet
    w.device.value = "cpu"
    assert w.image.value is layer and w.run.enabled
    viewer.add_image(np.zeros((8, 8)), name="other")  # the selection may change meanwhile
    w.run.clicked.emit()
    assert not w.run.enabled
    w.image.value = viewer.layers["other"]
    wait(qtbot, w)
    assert not errors
    grains = viewer.layers["grains [micro]"]
    prob = viewer.layers["boundary probability [micro]"]
    assert grains.data.shape == prob.data.shape == image.shape
    assert tuple(grains.scale) == (0.5, 0.5)
    features = grains.features
    assert len(features) == grains.data.max()
    assert {"index", "area_px", "area_um2", "circularity"} <= set(features.columns)
    assert features["area_um2"].iloc[0] == pytest.approx(features["area_px"].iloc[0] * 0.25)
    # re-running replaces the plugin's own layers
    n = len(viewer.layers)
    w.image.value = layer
    w.run.clicked.emit()
    wait(qtbot, w)
    assert len(viewer.layers) == n


def test_segment_stack_and_rgb(make_napari_viewer, qtbot, tiny_sims, unet, errors):
    viewer = make_napari_viewer()
    images = [tifffile.imread(p) for p in sorted((tiny_sims / "images").glob("*.tif"))[:3]]
    viewer.add_image(np.stack(images), name="movie")
    w = SegmentWidget(viewer)
    w.use_default.value, w.weights.value, w.device.value = False, unet, "cpu"
    w.image.value = viewer.layers["movie"]
    w.run.clicked.emit()
    wait(qtbot, w)
    grains = viewer.layers["grains [movie]"]
    assert grains.data.shape == (3, 64, 64)
    ids = [set(np.unique(f)) - {0} for f in grains.data]
    assert not ids[0] & ids[1]  # ids unique across frames
    assert sorted(set(grains.features["frame"])) == [0, 1, 2]
    rgb = np.repeat((images[0] * 255).astype(np.uint8)[..., None], 3, axis=-1)
    viewer.add_image(rgb, name="colour", rgb=True)
    w.image.value = viewer.layers["colour"]
    w.run.clicked.emit()
    wait(qtbot, w)
    assert viewer.layers["grains [colour]"].data.shape == (64, 64)
    assert not errors


@pytest.mark.slow
def test_segment_cancel_leaves_no_result_and_a_usable_widget(make_napari_viewer, qtbot,
                                                              unet, errors):
    viewer = make_napari_viewer()
    viewer.add_image(np.random.default_rng(0).random((1024, 1024)).astype(np.float32),
                     name="big")
    w = SegmentWidget(viewer)
    w.use_default.value, w.weights.value, w.device.value = False, unet, "cpu"
    w.tta.value = True  # slow enough to cancel in the middle
    w.run.clicked.emit()
    qtbot.waitUntil(lambda: w.progress.value >= 1, timeout=30_000)
    w.cancel.clicked.emit()
    wait(qtbot, w)
    assert "grains [big]" not in viewer.layers
    assert w.run.enabled and not w.cancel.enabled and not errors
    assert w.status.value == "cancelled" and w.progress.value == 0  # not frozen at 44 %


def test_segment_bad_input_is_a_notification(make_napari_viewer, tmp_path, errors):
    viewer = make_napari_viewer()
    w = SegmentWidget(viewer)
    assert not w.run.enabled  # no image layer yet
    viewer.add_image(np.zeros((2, 3, 4, 5)), name="4d")
    w.use_default.value = False
    w.weights.value = tmp_path / "missing.safetensors"
    w.run.clicked.emit()
    assert errors and "4d" in errors[0]
    viewer.layers.clear()
    viewer.add_image(np.zeros((32, 32)), name="flat")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"nonsense")
    w.weights.value = bad
    w.run.clicked.emit()
    assert "damaged" in errors[-1] and not w.busy and w.run.enabled


@pytest.mark.parametrize("field, value, words", [
    ("grain_size", "huge", "grain size must be 'auto', 'off' or a diameter"),
    ("grain_size", "1", "grain_size must be 'auto', 'off' or a diameter of 2-100000 px"),
    ("instances", "watershed", None),  # valid: runs
])
def test_segment_options_are_checked_before_the_run(make_napari_viewer, qtbot, unet, errors,
                                                    field, value, words):
    viewer = make_napari_viewer()
    viewer.add_image(np.random.default_rng(0).random((64, 64)).astype(np.float32), name="m")
    w = SegmentWidget(viewer)
    w.use_default.value, w.weights.value, w.device.value = False, unet, "cpu"
    getattr(w, field).value = value
    w.run.clicked.emit()
    if words:
        assert errors and words in errors[-1] and not w.busy and w.run.enabled
    else:
        wait(qtbot, w)
        assert not errors and "grains [m]" in viewer.layers


def test_segment_reports_its_quality(make_napari_viewer, qtbot, unet, errors, monkeypatch):
    from napari_labourfree._widgets import segment as segment_widget

    warned = []
    monkeypatch.setattr(segment_widget, "show_warning", warned.append)
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((64, 64), np.float32), name="blank")  # nothing to find
    w = SegmentWidget(viewer)
    w.use_default.value, w.weights.value, w.device.value = False, unet, "cpu"
    assert w.threshold.value == 0  # 0 = the model's own threshold
    w.run.clicked.emit()
    wait(qtbot, w)
    quality = viewer.layers["grains [blank]"].metadata["quality"]
    assert len(quality) == 1 and quality[0]["instances"] in ("watershed", "components")
    assert warned and "'blank'" in warned[0] and "unsure" in w.status.value


def test_grain_statistics_table_selection_and_csv(make_napari_viewer, qtbot, tmp_path,
                                                  errors):
    from conftest import square_grid

    viewer = make_napari_viewer()
    labels = viewer.add_labels(square_grid(60, 10, 5), name="grid", scale=(2.0, 2.0))
    w = GrainStatsWidget(viewer)
    w.grains.value = labels
    assert not w.busy and "area_um2" not in labels.features.columns  # a user's layer: asked
    w.measure.clicked.emit()
    wait(qtbot, w)
    assert w.table.rowCount() == 49
    assert "area_um2" in labels.features.columns
    assert w.summary.value.startswith("25 grains (+24 at the edge)")  # 5 x 5 inside
    header = [w.table.horizontalHeaderItem(j).text() for j in range(w.table.columnCount())]
    assert header[:3] == ["label", "area (µm²)", "ECD (µm)"]
    w.table.sortItems(1)  # sortable
    w.table.selectRow(3)
    grain = int(w.table.item(3, 0).text())
    assert labels.selected_label == grain and labels.show_selected_label
    w.csv.value = tmp_path / "grains.csv"
    w.export.clicked.emit()
    table = read_csv(tmp_path / "grains.csv")
    assert len(table["label"]) == 49 and (tmp_path / "grains_summary.json").is_file()
    assert not errors


def test_grain_statistics_of_a_stack_plots_growth(make_napari_viewer, qtbot, tmp_path):
    from conftest import square_grid

    viewer = make_napari_viewer()
    stack = np.stack([square_grid(60, c, 0) for c in (5, 10, 20)])
    viewer.add_labels(stack, name="growth")
    w = GrainStatsWidget(viewer)
    w.grains.value = viewer.layers["growth"]
    w.measure.clicked.emit()
    wait(qtbot, w)
    growth = w._result[2]
    assert len(w.figure.axes) == 3  # area, circularity and the growth series
    assert growth["grains"].tolist() == [100, 16, 1]  # inner grains only
    w.csv.value = tmp_path / "g.csv"
    w.export.clicked.emit()
    assert (tmp_path / "g_growth.csv").is_file()


def test_compare(make_napari_viewer, qtbot, errors):
    viewer = make_napari_viewer()
    rng = np.random.default_rng(0)
    real = viewer.add_image((rng.random((96, 96)) * 255).astype(np.uint8), name="real")
    sim = viewer.add_image(np.full((96, 96), 0.8, np.float32), name="sim")
    syn = viewer.add_image(rng.random((96, 96)).astype(np.float32), name="syn")
    w = CompareWidget(viewer)
    assert not w.compare.enabled  # nothing chosen yet
    w.real.value, w.synthetic.value, w.simulation.value = [real], [syn], [sim]
    assert w.compare.enabled
    w.patch.value = 128  # larger than the images: the worker fails, the widget says why
    w.compare.clicked.emit()
    wait(qtbot, w)
    assert errors and "smaller than the 128 px patch" in str(errors[0])
    w.patch.value, w.per_image.value = 32, 8
    w.compare.clicked.emit()
    wait(qtbot, w)
    assert w.report.embedding.shape == (24, 2)
    assert "SSIM" in w.table.value and "entropy" in w.table.value


@pytest.mark.slow
def test_style_train_cancel_synthesize_stylize(make_napari_viewer, qtbot, tiny_sims,
                                               tiny_real, tmp_path, errors):
    viewer = make_napari_viewer()
    real = tifffile.imread(sorted(tiny_real.glob("*.tif"))[0])
    viewer.add_image(real, name="real")
    w = StyleWidget(viewer)
    assert not w.synthesize.enabled and not w.stylize.enabled  # no style yet
    w.sim.value, w.weights.value, w.device.value = tiny_sims, tmp_path / "s.safetensors", "cpu"
    w.real_layers.value = [viewer.layers["real"]]
    w.iterations.value, w.crop.value = 100_000, 32

    w.train.clicked.emit()
    qtbot.waitUntil(lambda: w.progress.value >= 2, timeout=30_000)
    w.cancel.clicked.emit()
    wait(qtbot, w)
    assert (tmp_path / "s.safetensors").is_file()  # cancel kept the weights
    w.iterations.value = 20
    w.resume.value = True
    w.train.clicked.emit()
    wait(qtbot, w)
    assert PREVIEW in viewer.layers and w.synthesize.enabled and w.stylize.enabled
    w.out.value = tmp_path / "syn"
    w.synthesize.clicked.emit()
    wait(qtbot, w)
    assert len(list((tmp_path / "syn" / "images").glob("*.tif"))) == 6
    w.layer.value = viewer.layers["real"]
    w.stylize.clicked.emit()
    wait(qtbot, w)
    assert viewer.layers["synthetic [real]"].data.shape == real.shape
    assert not errors


def test_colour_in_the_gui(make_napari_viewer, qtbot, tiny_sims, tiny_colour, tmp_path,
                           errors):
    """A colour real layer trains an RGB style (colour 'auto'), whose synthetic folder
    trains an RGB U-Net, which segments the RGB layer as RGB."""
    from napari_labourfree import checkpoints
    from napari_labourfree.segmenter.model import Segmenter

    viewer = make_napari_viewer()
    rgb = tifffile.imread(sorted((tiny_colour / "images").glob("*.tif"))[0])
    viewer.add_image(rgb, name="tint", rgb=True)
    style = StyleWidget(viewer)
    style.sim.value, style.device.value = tiny_sims, "cpu"
    style.weights.value = tmp_path / "s.safetensors"
    style.real_layers.value = [viewer.layers["tint"]]
    style.iterations.value, style.crop.value = 3, 32
    style.train.clicked.emit()
    wait(qtbot, style)
    header = checkpoints.read_header(tmp_path / "s.safetensors")["config"]
    # grain tints 'auto': a colour style from a simulations folder with its labels
    assert header["architecture"]["channels"] == 3 and header["training"]["grain_tint"]
    style.out.value = tmp_path / "syn"
    style.synthesize.clicked.emit()
    wait(qtbot, style)
    style.layer.value = viewer.layers["tint"]  # stylizing makes a colour layer
    style.stylize.clicked.emit()
    wait(qtbot, style)
    assert viewer.layers["synthetic [tint]"].rgb

    train = SegmenterTrainingWidget(viewer)
    train.data.value, train.weights.value = tmp_path / "syn", tmp_path / "u.safetensors"
    train.device.value, train.epochs.value, train.steps.value, train.crop.value = "cpu", 1, 3, 32
    train.train.clicked.emit()
    wait(qtbot, train)
    model = Segmenter.load(tmp_path / "u.safetensors")
    assert model.channels == 3
    segment = SegmentWidget(viewer)
    segment.device.value, segment.grain_size.value = "cpu", "off"
    segment.image.value = viewer.layers["tint"]
    segment.run.clicked.emit()
    wait(qtbot, segment)
    shown = viewer.layers["boundary probability [tint]"].data
    assert np.allclose(shown, run_job(model.probability(rgb)), atol=1e-5)
    assert not np.allclose(shown, run_job(model.probability(rgb[..., ::-1].copy())),
                           atol=1e-3)  # it saw the colours, not a grey version
    assert not errors


def test_segmenter_trains_and_hands_its_weights_to_segment(make_napari_viewer, qtbot,
                                                           tiny_sims, tmp_path, errors):
    viewer = make_napari_viewer()
    w = SegmenterTrainingWidget(viewer)
    segment = SegmentWidget(viewer)
    w.data.value, w.weights.value, w.device.value = tiny_sims, tmp_path / "u.safetensors", "cpu"
    w.epochs.value, w.steps.value, w.crop.value = 2, 5, 32
    w.train.clicked.emit()
    wait(qtbot, w)
    assert not errors
    assert w.history.value.count("boundary F1") == 2
    assert shared.segmenter == str(tmp_path / "u.safetensors")
    assert str(segment.weights.value) == shared.segmenter and not segment.use_default.value
    w.data.value = tmp_path / "nothing-here"
    w.train.clicked.emit()
    assert errors and w.train.enabled


@pytest.mark.slow
def test_end_to_end(make_napari_viewer, qtbot, tmp_path, errors):
    """simulate -> style -> synthesize -> train -> segment -> table -> CSV, all in the GUI."""
    from napari_labourfree._widgets.generator import MicrostructureGenerator

    viewer = make_napari_viewer()
    gen = MicrostructureGenerator(viewer)
    gen.image_height.value = gen.image_width.value = 64
    gen.grains.value, gen.steps.value, gen.snapshot_every.value = 10, 100, 0
    gen.fast.value, gen.device.value, gen.count.value = False, "cpu", 4
    gen.folder.value = tmp_path / "sims"
    gen.generate.clicked.emit()
    qtbot.waitUntil(lambda: gen._worker is None, timeout=60_000)
    gen.preview.clicked.emit()  # a structure to turn into a "real" image
    qtbot.waitUntil(lambda: gen._worker is None, timeout=60_000)
    phi = viewer.layers["phi [microstructure]"].data  # 2-D: no movie frames were asked for
    viewer.add_image(((1 - phi) * 200).astype(np.uint8), name="real")

    style = StyleWidget(viewer)
    style.sim.value, style.weights.value = tmp_path / "sims", tmp_path / "style.safetensors"
    style.real_layers.value = [viewer.layers["real"]]
    style.iterations.value, style.crop.value, style.device.value = 4, 32, "cpu"
    style.train.clicked.emit()
    wait(qtbot, style)
    style.out.value = tmp_path / "syn"
    style.synthesize.clicked.emit()
    wait(qtbot, style)

    segmenter = SegmenterTrainingWidget(viewer)
    segmenter.data.value, segmenter.weights.value = tmp_path / "syn", tmp_path / "u.safetensors"
    segmenter.epochs.value, segmenter.steps.value, segmenter.crop.value = 1, 3, 32
    segmenter.device.value = "cpu"
    segmenter.train.clicked.emit()
    wait(qtbot, segmenter)

    segment = SegmentWidget(viewer)
    segment.image.value = viewer.layers["real"]
    segment.device.value = "cpu"
    segment.run.clicked.emit()
    wait(qtbot, segment)

    stats = GrainStatsWidget(viewer)
    stats.grains.value = viewer.layers["grains [real]"]
    wait(qtbot, stats)
    stats.csv.value = tmp_path / "real.csv"
    stats.export.clicked.emit()
    assert not errors
    assert (tmp_path / "real.csv").is_file()
    assert len(read_csv(tmp_path / "real.csv")["label"]) == stats.table.rowCount()


@pytest.mark.slow
def test_sample_micrograph_with_ground_truth(make_napari_viewer):
    viewer = make_napari_viewer()
    viewer.open_sample("napari-labourfree", "micrograph")
    image = viewer.layers["micrograph [sample]"].data
    truth = viewer.layers["true boundaries [sample]"].data
    assert image.dtype == np.uint8 and image.shape == truth.shape == (384, 384)
    # the painted boundaries are darker than the grains, as in an etched micrograph
    assert image[truth > 0].mean() < image[truth == 0].mean() - 30
