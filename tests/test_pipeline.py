"""`labourfree pipeline` and the pieces the built-in default relies on."""

import json

import numpy as np
import pytest
import tifffile

from napari_labourfree.cli import main
from napari_labourfree.jobs import run_job
from napari_labourfree.pipeline import PipelinePlan, run_pipeline
from napari_labourfree.segmenter.classical import classical_boundaries

TINY = {"size": 64, "grains": 10, "steps": 100, "crop_size": 32, "steps_per_epoch": 4,
        "depth": 2, "base": 4, "ngf": 4, "ndf": 4, "n_blocks": 1}


def test_pipeline_runs_every_stage_then_resumes(tiny_real, tmp_path):
    truth = tmp_path / "truth"
    truth.mkdir()
    for path in sorted(tiny_real.glob("*.tif"))[:2]:
        image = tifffile.imread(path)
        tifffile.imwrite(truth / path.name, (image > image.mean()).astype(np.uint8) * 255)
    plan = PipelinePlan(real=[tiny_real], out=tmp_path / "run", truth=truth, count=3,
                        iterations=3, epochs=1, overrides=dict(TINY), start_from=None)
    events = []
    report = run_job(run_pipeline(plan, "cpu"), events.append)
    text = report.read_text()
    assert "## Against the ground truth" in text
    assert "| this pipeline | 2 |" in text and "| built-in default alone | 2 |" in text
    assert "grains, default alone" in text  # what the training bought, image by image
    stem = sorted(tiny_real.glob("*.tif"))[0].stem
    assert (tmp_path / "run" / "default-segmented" / f"{stem}_labels.tif").is_file()
    assert "trained from random weights" in text
    stages = {e.message.split("]")[0] for e in events if e.message.startswith("[")}
    assert stages == {f"[{k}/7" for k in range(1, 8)}
    for name in ("simulations/meta.json", "style.safetensors", "synthetic/meta.json",
                 "segmenter.safetensors", "report/histograms.png"):
        assert (tmp_path / "run" / name).exists(), name
    stem = sorted(tiny_real.glob("*.tif"))[0].stem
    assert (tmp_path / "run" / "segmented" / f"{stem}_overlay.png").is_file()
    # a second run finds every stage done: only the report is made again
    plan = PipelinePlan(real=[tiny_real], out=tmp_path / "run", truth=truth, count=3,
                        iterations=3, epochs=1, overrides=dict(TINY), start_from=None)
    events = []
    run_job(run_pipeline(plan, "cpu"), events.append)
    assert {e.message.split("]")[0] for e in events if e.message.startswith("[")} == {"[7/7"}


def test_pipeline_fine_tunes_the_default_beside_engine_images(tiny_real, tmp_path):
    from napari_labourfree import checkpoints
    from napari_labourfree.segmenter.default import default_weights

    tiny = {k: v for k, v in TINY.items() if k not in ("depth", "base")}
    plan = PipelinePlan(real=[tiny_real], out=tmp_path / "run", count=3, iterations=3,
                        epochs=1, overrides=tiny)  # start_from="default" is the default
    report = run_job(run_pipeline(plan, "cpu")).read_text()
    assert "fine-tuned from `default_segmenter.safetensors`" in report
    assert len(list((tmp_path / "run" / "engine" / "images").glob("*.tif"))) == 3
    header = checkpoints.read_header(tmp_path / "run" / "segmenter.safetensors")
    default = checkpoints.read_header(default_weights())
    training = header["config"]["training"]
    assert training["started_from"] == "default_segmenter.safetensors"
    assert len(training["data"]) == 2 and training["images"] == 6
    assert header["config"]["architecture"] == default["config"]["architecture"]
    assert header["config"]["grain_size"]["range"][1] > 100  # it still knows large grains
    with pytest.raises(ValueError, match="depth change the U-Net"):
        run_pipeline(PipelinePlan(real=[tiny_real], out=tmp_path / "other",
                                  overrides={"depth": 2}), "cpu")


def test_colour_images_stay_colour_through_the_pipeline(tiny_colour, tmp_path):
    from napari_labourfree import checkpoints

    tiny = {k: v for k, v in TINY.items() if k not in ("depth", "base")}
    real = sorted((tiny_colour / "images").glob("*.tif"))[:2]
    plan = PipelinePlan(real=real, out=tmp_path / "run", count=2, iterations=2, epochs=1,
                        grain_size="preset", overrides=tiny)  # colour="auto"
    report = run_job(run_pipeline(plan, "cpu")).read_text()
    run = tmp_path / "run"
    assert json.loads((run / "real-images.json").read_text())["colour"] == "rgb"
    assert checkpoints.read_header(run / "style.safetensors")["config"]["architecture"][
        "channels"] == 3
    synthetic = tifffile.imread(next((run / "synthetic" / "images").glob("*.tif")))
    assert synthetic.shape[-1] == 3 and synthetic.dtype == np.uint8
    assert checkpoints.read_header(run / "segmenter.safetensors")["config"]["architecture"][
        "channels"] == 3
    assert "Your images are in colour" in report
    # the style learned from grains of random colours, the segmenter from the phase field
    assert json.loads((run / "real-images.json").read_text())["grain_tint"] is True
    tinted = tifffile.imread(next((run / "simulations-tinted" / "images").glob("*.tif")))
    labels = tifffile.imread(next((run / "simulations-tinted" / "labels").glob("*.tif")))
    assert tinted.shape == (*labels.shape, 3)
    inside = [tinted[labels == k].mean(0) for k in np.unique(labels)[:4]]
    assert np.ptp(np.array(inside), axis=0).max() > 0.1  # grains differ in colour
    assert "random colour" in report
    assert (run / "segmented" / f"{real[0].stem}_grains.csv").is_file()
    # the report shows the real image in colour, not reduced to grey
    import imageio.v3 as iio

    shown = iio.imread(run / "report" / "real.png")
    assert shown.ndim == 3 and np.ptp(shown.astype(int), axis=-1).max() > 20
    # --colour grey keeps the old behaviour
    plan = PipelinePlan(real=real, out=tmp_path / "grey", count=2, iterations=2, epochs=1,
                        grain_size="preset", overrides=tiny, colour="grey")
    run_job(run_pipeline(plan, "cpu"))
    assert checkpoints.read_header(tmp_path / "grey" / "segmenter.safetensors")["config"][
        "architecture"]["channels"] == 1


def test_pipeline_refuses_missing_inputs(tmp_path, capsys):
    assert main(["pipeline", "--real", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_pipeline_refuses_unknown_overrides_before_doing_anything(tiny_real, tmp_path):
    plan = PipelinePlan(real=[tiny_real], out=tmp_path / "run",
                        overrides={**TINY, "epoch": 3, "grain": 9})
    with pytest.raises(ValueError, match=r"unknown pipeline override\(s\) epoch, grain; known"):
        run_pipeline(plan, "cpu")
    assert not (tmp_path / "run").exists()
    for bad, words in ((dict(style_model="unit"), "style model must be one of"),
                       (dict(seed=-1), "seed must be a whole number"),
                       (dict(colour="cmyk"), "colour must be one of auto, rgb, grey"),
                       (dict(grain_tint="yes"), "grain tint must be one of auto, on, off"),
                       (dict(grain_size="huge"), "grain size must be"),
                       (dict(particles=0.9), "particles must be an area fraction")):
        with pytest.raises(ValueError, match=words):
            run_pipeline(PipelinePlan(real=[tiny_real], out=tmp_path / "run", **bad), "cpu")
        assert not (tmp_path / "run").exists()


def test_classical_baseline_finds_dark_lines():
    from napari_labourfree._sample_data import synthetic_micrograph
    from napari_labourfree.analysis.metrics import boundary_f1

    (image, _, _), (truth, _, _) = synthetic_micrograph()
    boundaries, labels = classical_boundaries(image)
    assert boundaries.shape == image.shape and labels.max() > 20
    assert boundary_f1(boundaries, truth > 0)["boundary_f1"] > 0.5


def test_segment_the_built_in_sample(tmp_path, unet_weights):
    out = tmp_path / "demo"
    assert main(["segment", "sample", "--model", str(unet_weights), "--out", str(out),
                 "--quiet", "--device", "cpu"]) == 0
    for name in ("sample.tif", "sample_truth_boundaries.tif", "sample_labels.tif",
                 "sample_grains.csv", "sample_overlay.png"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "sample_grains_summary.json").read_text())
    assert summary["summary"]["grains_total"] > 0
    assert main(["segment", "sample", "--model", str(unet_weights), "--out", str(out),
                 "--quiet"]) == 2  # no silent overwrite


@pytest.fixture(scope="module")
def unet_weights(tiny_sims, tmp_path_factory):
    from napari_labourfree.segmenter.train import segmenter_config, train_segmenter

    out = tmp_path_factory.mktemp("p") / "u.safetensors"
    config = segmenter_config("fast", epochs=1, steps_per_epoch=5, depth=2, base=4,
                              crop_size=32)
    return run_job(train_segmenter(tiny_sims, out, config))


def test_the_built_in_default_model_ships_and_finds_dark_boundaries(tmp_path):
    from napari_labourfree._sample_data import synthetic_micrograph
    from napari_labourfree.analysis.metrics import boundary_f1
    from napari_labourfree.checkpoints import read_header
    from napari_labourfree.segmenter.default import default_weights
    from napari_labourfree.segmenter.model import Segmenter

    weights = default_weights()
    assert weights.stat().st_size < 8_000_000
    header = read_header(weights)
    assert header["kind"] == "segmenter" and "recipe" in header["config"]["training"]
    assert "optimizers" not in header or not header["optimizers"]
    (image, _, _), (truth, _, _) = synthetic_micrograph()
    result = run_job(Segmenter.load(weights).segment(image[:192, :192]))
    assert boundary_f1(result.boundaries, truth[:192, :192] > 0)["boundary_f1"] > 0.8
    tifffile.imwrite(tmp_path / "m.tif", image[:128, :128])
    assert main(["segment", str(tmp_path / "m.tif"), "--out", str(tmp_path / "o"),
                 "--quiet"]) == 0  # --model default is the default
    assert (tmp_path / "o" / "m_overlay.png").is_file()


def test_simulations_take_the_grain_size_of_the_real_images(tiny_real, tmp_path):
    """With no size/grains override the structures are grown to the real grain size: a
    user's 150 px means larger structures of fewer, larger grains; the report says so."""
    from napari_labourfree.matching import simulated_diameter

    tiny = {k: v for k, v in TINY.items() if k not in ("size", "grains")}
    tiny["steps"] = 20
    plan = PipelinePlan(real=[tiny_real], out=tmp_path / "run", count=2, iterations=2,
                        epochs=1, overrides=tiny, start_from=None, grain_size=150,
                        particles=0.01)
    report = run_job(run_pipeline(plan, "cpu")).read_text()
    # the style model learned from simulations carrying the particles the user set
    marked = tmp_path / "run" / "simulations-with-particles"
    assert len(list((marked / "images").glob("*.tif"))) == 2
    phi = tifffile.imread(marked / "images" / "structure_0000.tif")
    assert 0.005 < np.mean(phi < 0.05) < 0.02
    assert (tifffile.imread(marked / "masks" / "structure_0000.tif") == tifffile.imread(
        tmp_path / "run" / "simulations" / "masks" / "structure_0000.tif")).all()
    synthetic = json.loads((tmp_path / "run" / "synthetic" / "meta.json").read_text())
    assert synthetic["source"] == str(marked)
    assert "Second-phase particles (as you set): 1.00% of the area" in report
    meta = json.loads((tmp_path / "run" / "simulations" / "meta.json").read_text())
    assert (meta["parameters"]["height"], meta["parameters"]["grains"]) == (896, 45)
    assert meta["count"] == 2  # the user's --count is kept
    low, high = meta["grain_diameter"]
    assert 0.9 * 150 < low <= high < 1.1 * 150
    assert abs(simulated_diameter(896, 45) - 150) < 2
    found = json.loads((tmp_path / "run" / "real-images.json").read_text())["grain_size"]
    assert found["source"] == "user" and found["diameter_px"] == 150
    assert set(found["per_image_px"]) == {p.name for p in tiny_real.glob("*.tif")}
    assert "the size you gave, 150 px: 2 structures of 45 grains in 896x896 px" in report
    for picture in ("realism.png", "grain_sizes.png", "simulation.png", "synthetic.png"):
        assert (tmp_path / "run" / "report" / picture).is_file(), picture
    assert "| synthetic |" in report and "| simulation |" in report
    # the same folder with another grain size would mix two runs: refused, nothing lost
    style = (tmp_path / "run" / "style.safetensors").read_bytes()
    plan = PipelinePlan(real=[tiny_real], out=tmp_path / "run", count=2, iterations=2,
                        epochs=1, overrides=tiny, start_from=None, grain_size=60)
    with pytest.raises(ValueError, match="holds a run on other simulations"):
        run_job(run_pipeline(plan, "cpu"))
    plan = PipelinePlan(real=[tiny_real], out=tmp_path / "run", count=2, iterations=2,
                        epochs=1, overrides=tiny, start_from=None, grain_size=150,
                        particles=0.01, seed=1)  # another seed is another run too
    with pytest.raises(ValueError, match="seed 0; now 45 in 896 px, seed 1"):
        run_job(run_pipeline(plan, "cpu"))
    assert (tmp_path / "run" / "style.safetensors").read_bytes() == style


@pytest.mark.parametrize("diameter, expected", [
    (54.6, (512, 112, 40)),  # the preset's own grains
    (150, (896, 45, 13)),    # large grains: larger structures, fewer of them
    (5, (512, 579, 40)),     # clipped to the smallest grains the phase field keeps
    (1000, (1024, 21, 10)),  # clipped to the largest
])
def test_matched_growth(diameter, expected):
    from napari_labourfree.matching import matched_growth

    assert matched_growth(diameter) == expected


def test_grain_size_estimate_is_the_median_of_the_images():
    from napari_labourfree.matching import estimate_from_quality

    found = estimate_from_quality({"a": {"grain_size_px": 40.0}, "b": {"grain_size_px": 60.0},
                                   "c": {"grain_size_px": None}, "d": None,
                                   "e": {"grain_size_px": 200.0}})
    assert found.diameter == 60.0 and found.source == "auto"
    assert estimate_from_quality({"a": None}).diameter is None
