"""U-Net training job and segmentation of whole images."""

import numpy as np
import pytest
import tifffile
import torch

from napari_labourfree import checkpoints
from napari_labourfree.analysis.metrics import boundary_f1
from napari_labourfree.jobs import run_job
from napari_labourfree.segmenter.augment import vary_appearance
from napari_labourfree.segmenter.model import Segmenter
from napari_labourfree.segmenter.train import segmenter_config, split_validation, train_segmenter

TINY = {"depth": 2, "base": 8, "crop_size": 48, "batch_size": 4, "val_fraction": 0.2}


@pytest.fixture(scope="module")
def trained(tiny_sims, tmp_path_factory):
    out = tmp_path_factory.mktemp("unet") / "u.safetensors"
    events = []
    config = segmenter_config("fast", epochs=3, steps_per_epoch=50, lr=3e-3, **TINY)
    run_job(train_segmenter(tiny_sims, out, config), events.append)
    return out, events


@pytest.mark.slow
def test_a_tiny_unet_learns_simulated_boundaries(trained, tiny_sims):
    out, events = trained
    header = checkpoints.read_header(out)
    history = header["config"]["training"]["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert all("val_boundary_f1" in h for h in history)
    val = header["config"]["training"]["val_files"]
    assert len(val) == 1
    model = Segmenter.load(out)
    image = tifffile.imread(tiny_sims / "images" / val[0])
    truth = tifffile.imread(tiny_sims / "masks" / val[0]) > 0
    result = run_job(model.segment(image))
    learned = boundary_f1(result.boundaries, truth)["boundary_f1"]
    trivial = boundary_f1(np.ones_like(truth), truth)["boundary_f1"]
    assert learned > 0.8 and learned > trivial + 0.3
    assert result.labels.min() >= 1 and result.probability.dtype == np.float32
    assert events[-1].losses["val_boundary_f1"] == pytest.approx(
        history[-1]["val_boundary_f1"])


def test_segments_any_size_and_tta(trained):
    model = Segmenter.load(trained[0])
    rng = np.random.default_rng(0)
    for shape in ((20, 33), (300, 170)):
        image = rng.integers(0, 65535, shape).astype(np.uint16)
        result = run_job(model.segment(image, tile=64, overlap=16))
        assert result.probability.shape == shape == result.labels.shape
    image = rng.random((64, 64)).astype(np.float32)
    events = []
    tta = run_job(model.probability(image, tta=True), events.append)
    assert tta.shape == (64, 64) and 0 <= tta.min() <= tta.max() <= 1
    # the mean over the 8 flips/turns, each a pass of its own (a cancel is heard per tile)
    want = np.zeros_like(tta)
    for flip in (False, True):
        for k in range(4):
            seen = np.rot90(image[:, ::-1] if flip else image, k)
            p = np.rot90(run_job(model.probability(np.ascontiguousarray(seen))), -k)
            want += p[:, ::-1] if flip else p
    assert np.allclose(tta, want / 8, atol=1e-5)
    assert len(events) == 8 and events[-1].step == events[-1].total == 8


@pytest.mark.parametrize("image, words", [
    (np.zeros((64, 64, 4), np.uint8), "RGBA"),
    (np.full((64, 64), np.nan, np.float32), "NaN"),
    (np.full((64, 64, 3), np.nan, np.float32), "NaN"),
    (np.zeros((5, 5, 3), np.uint8), "too small"),
    (np.zeros((4, 64, 64), np.float32), "2-D"),
    (np.zeros((5, 5), np.float32), "too small"),
])
def test_bad_images_get_clear_errors(trained, image, words):
    with pytest.raises(ValueError, match=words):
        run_job(Segmenter.load(trained[0]).probability(image))


def test_cancel_and_resume(tiny_sims, tmp_path):
    out = tmp_path / "u.safetensors"
    config = segmenter_config("fast", epochs=2, steps_per_epoch=5, **TINY)
    job = train_segmenter(tiny_sims, out, config)
    for event in job:
        if event.step == 3 and event.losses:
            job.close()
            break
    assert checkpoints.read_header(out)["config"]["training"]["step"] == 3
    steps = []
    run_job(train_segmenter(tiny_sims, out, config, resume=True),
            lambda e: steps.append(e.step) if e.losses else None)
    assert steps[0] == 4 and steps[-1] == 10


def test_inputs_are_checked_before_the_job_starts(tiny_sims, tmp_path):
    with pytest.raises(FileNotFoundError):
        train_segmenter(tmp_path / "none", tmp_path / "u.safetensors")
    with pytest.raises(ValueError, match=".safetensors"):
        train_segmenter(tiny_sims, tmp_path / "u.pt")
    with pytest.raises(ValueError, match="multiple of 8"):
        segmenter_config("fast", depth=3, crop_size=60)


def test_validation_split():
    rng = np.random.default_rng(0)
    train, val = split_validation(10, 0.1, rng)
    assert len(val) == 1 and len(train) == 9 and not set(train) & set(val)
    assert len(split_validation(1, 0.5, rng)[1]) == 0


def test_appearance_augmentation_stays_in_range_and_varies():
    x = torch.linspace(-1, 1, 64).repeat(4, 1, 64, 1)
    y = vary_appearance(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and y.min() >= -1 and y.max() <= 1
    assert not torch.allclose(y[0], y[1])
    assert torch.allclose(vary_appearance(x, torch.Generator().manual_seed(0), 0.0), x, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu(trained):
    image = np.random.default_rng(0).random((128, 128)).astype(np.float32)
    cpu = run_job(Segmenter.load(trained[0], "cpu").probability(image))
    gpu = run_job(Segmenter.load(trained[0], "cuda").probability(image))
    assert np.abs(cpu - gpu).max() < 0.05  # bfloat16 autocast on the GPU
