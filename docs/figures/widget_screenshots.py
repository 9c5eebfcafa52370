"""Screenshots of every dock widget in use -> docs/images/widget_*.png.

    xvfb-run -a python docs/figures/widget_screenshots.py      (about 5 minutes on 2 cores)

Everything is generated here: simulations, a hand-painted micrograph look for them, a quick
U-Net and a quick style. No third-party images are used.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

IMAGES = Path(__file__).resolve().parents[1] / "images"


def wait(widget) -> None:
    from qtpy.QtWidgets import QApplication

    while widget.busy:
        QApplication.processEvents()
        time.sleep(0.02)
    QApplication.processEvents()


def shoot(viewer, name: str) -> None:
    import imageio.v3 as iio
    from qtpy.QtWidgets import QApplication

    viewer.reset_view()
    for _ in range(5):
        QApplication.processEvents()
        time.sleep(0.05)
    iio.imwrite(IMAGES / f"widget_{name}.png", viewer.screenshot(canvas_only=False))
    print(f"wrote widget_{name}.png")


def training_data(root: Path) -> Path:
    """Simulations painted by the appearance engine, as a training folder."""
    from napari_labourfree.appearance import render_dataset
    from napari_labourfree.jobs import run_job
    from napari_labourfree.phasefield.dataset import simulate_dataset
    from napari_labourfree.phasefield.params import GrowthParams

    sims = root / "sims"
    run_job(simulate_dataset(GrowthParams(height=256, width=256, grains=40, steps=300), 12,
                             sims, seed=3, compile=False))
    data = root / "painted"
    run_job(render_dataset(sims, data, 12, size=256, seed=3))
    return sims, data


def main() -> None:
    import napari

    from napari_labourfree._widgets.compare import CompareWidget
    from napari_labourfree._widgets.grain_stats import GrainStatsWidget
    from napari_labourfree._widgets.segment import SegmentWidget
    from napari_labourfree._widgets.segmenter_training import SegmenterTrainingWidget
    from napari_labourfree._widgets.style import StyleWidget

    root = Path(tempfile.mkdtemp())
    sims, data = training_data(root)
    viewer = napari.Viewer()
    viewer.window.resize(1500, 950)

    segmenter = SegmenterTrainingWidget(viewer)
    dock = viewer.window.add_dock_widget(segmenter, name="Segmenter (U-Net)")
    segmenter.data.value, segmenter.weights.value = data, root / "unet.safetensors"
    segmenter.epochs.value, segmenter.device.value = 6, "cpu"
    segmenter.train.clicked.emit()
    wait(segmenter)
    shoot(viewer, "segmenter")
    viewer.window.remove_dock_widget(dock)

    viewer.open_sample("napari-labourfree", "micrograph")
    segment = SegmentWidget(viewer)
    dock = viewer.window.add_dock_widget(segment, name="Segment")
    segment.image.value = viewer.layers["micrograph [sample]"]
    segment.use_default.value = True  # the built-in default, not the quick U-Net above
    segment.pixel_size.value = "0.1"
    segment.show_table.value = False  # Grain statistics gets its own picture below
    segment.run.clicked.emit()
    wait(segment)
    shoot(viewer, "segment")
    viewer.window.remove_dock_widget(dock)

    stats = GrainStatsWidget(viewer)
    dock = viewer.window.add_dock_widget(stats, name="Grain statistics")
    stats.grains.value = viewer.layers["grains [micrograph [sample]]"]
    wait(stats)
    stats.table.sortItems(1)  # no row selected, so every grain's outline shows
    shoot(viewer, "grain_stats")
    viewer.window.remove_dock_widget(dock)

    style = StyleWidget(viewer)
    dock = viewer.window.add_dock_widget(style, name="Style (CycleGAN)")
    style.sim.value, style.weights.value = sims, root / "style.safetensors"
    style.real_layers.value = [viewer.layers["micrograph [sample]"]]
    style.iterations.value, style.crop.value, style.device.value = 300, 96, "cpu"
    style.train.clicked.emit()
    wait(style)
    import tifffile

    phi = tifffile.imread(sorted((sims / "images").glob("*.tif"))[0])
    viewer.add_image(phi, name="phi (simulation)", colormap="gray")
    style.layer.value = viewer.layers["phi (simulation)"]
    style.stylize.clicked.emit()
    wait(style)
    for layer in viewer.layers:
        layer.visible = layer.name in ("synthetic [phi (simulation)]",)
    shoot(viewer, "style")
    viewer.window.remove_dock_widget(dock)

    compare = CompareWidget(viewer)
    dock = viewer.window.add_dock_widget(compare, name="Compare synthetic vs real")
    compare.real.value = [viewer.layers["micrograph [sample]"]]
    compare.synthetic.value = [viewer.layers["synthetic [phi (simulation)]"]]
    compare.simulation.value = [viewer.layers["phi (simulation)"]]
    compare.compare.clicked.emit()
    wait(compare)
    viewer.layers["micrograph [sample]"].visible = True
    shoot(viewer, "compare")
    viewer.close()


if __name__ == "__main__":
    np.random.seed(0)
    main()
