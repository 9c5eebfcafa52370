"""Tiled inference: no seams, any size, bounded tiles."""

import itertools

import numpy as np
import pytest
import torch

from napari_labourfree.jobs import run_job
from napari_labourfree.segmenter.unet import UNet
from napari_labourfree.tiling import tile_starts, tiled_apply


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return UNet(2, 4).eval()


def whole(net, image):
    with torch.no_grad():
        return net(torch.from_numpy(image)[None, None])[0, 0].numpy()


def test_tile_starts_cover_the_image():
    assert tile_starts(100, 128, 16) == [0]
    starts = tile_starts(1000, 256, 64)
    assert starts[0] == 0 and starts[-1] == 1000 - 256
    assert all(b - a <= 256 - 64 for a, b in itertools.pairwise(starts))


def test_tiled_equals_whole_image(net):
    rng = np.random.default_rng(0)
    image = rng.standard_normal((192, 256)).astype(np.float32)
    calls = []

    def fn(batch):
        calls.append(tuple(batch.shape))
        return net(batch)

    tiled = run_job(tiled_apply(fn, image, tile=96, overlap=32, multiple=4, batch_size=2))
    reference = whole(net, image)
    assert tiled.shape == image.shape
    assert all(shape[-2:] == (96, 96) for shape in calls)  # memory bounded by the tile
    assert np.abs(tiled - reference).mean() < 2e-3
    assert np.abs(tiled - reference).max() < 0.05


def test_images_smaller_than_a_tile_or_odd_sized(net):
    image = np.random.default_rng(1).standard_normal((21, 30)).astype(np.float32)
    out = run_job(tiled_apply(net, image, tile=64, overlap=16, multiple=4))
    assert out.shape == (21, 30) and np.isfinite(out).all()
    image = np.random.default_rng(2).standard_normal((130, 70)).astype(np.float32)
    assert run_job(tiled_apply(net, image, tile=64, overlap=16, multiple=4)).shape == (130, 70)


def test_progress_counts_batches(net):
    events = []
    image = np.zeros((200, 200), np.float32)
    run_job(tiled_apply(net, image, tile=64, overlap=16, multiple=4, batch_size=3),
            events.append)
    assert events[-1].step == events[-1].total == len(tile_starts(200, 64, 16)) ** 2


def test_bad_tile_settings(net):
    with pytest.raises(ValueError, match="multiple of 4"):
        run_job(tiled_apply(net, np.zeros((50, 50), np.float32), tile=66, overlap=8,
                            multiple=4))
