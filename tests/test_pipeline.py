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
    assert stages == {f"[{k}/6" for k in range(1, 7)}
    for name in ("simulations/meta.json", "style.safetensors", "synthetic/meta.json",
                 "segmenter.safetensors", "report/histograms.png"):
        assert (tmp_path / "run" / name).exists(), name
    stem = sorted(tiny_real.glob("*.tif"))[0].stem
    assert (tmp_path / "run" / "segmented" / f"{stem}_overlay.png").is_file()
    # a second run finds every stage done: only segment (skipped images) and report run
    plan = PipelinePlan(real=[tiny_real], out=tmp_path / "run", truth=truth, count=3,
                        iterations=3, epochs=1, overrides=dict(TINY), start_from=None)
    events = []
    run_job(run_pipeline(plan, "cpu"), events.append)
    assert {e.message.split("]")[0] for e in events if e.message.startswith("[")} == {"[6/6"}


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


def test_pipeline_refuses_missing_inputs(tmp_path, capsys):
    assert main(["pipeline", "--real", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_pipeline_refuses_unknown_overrides_before_doing_anything(tiny_real, tmp_path):
    plan = PipelinePlan(real=[tiny_real], out=tmp_path / "run",
                        overrides={**TINY, "epoch": 3, "grain": 9})
    with pytest.raises(ValueError, match=r"unknown pipeline override\(s\) epoch, grain; known"):
        run_pipeline(plan, "cpu")
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
