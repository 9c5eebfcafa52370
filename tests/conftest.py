"""Shared fixtures: tiny hand-made grain structures with known answers."""

from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(autouse=True, scope="session")
def _compiled_kernels_in_a_temporary_cache(tmp_path_factory):
    """Phase-field packages compiled ahead of time go to a folder of this test session, not
    to the user's ~/.cache."""
    import os

    os.environ["LABOURFREE_CACHE"] = str(tmp_path_factory.mktemp("labourfree-cache"))


def needs_shared_data(*parts: str):
    """Skip a test when ../shared/data (beside the checkout) lacks the file it needs."""
    path = SHARED_DATA.joinpath(*parts)
    return pytest.mark.skipif(
        not path.exists(),
        reason=f"needs the real micrographs in {path} (../shared/data beside the checkout); "
               "a user's clone does not have them")


def square_grid(size: int = 100, cell: int = 10, offset: int = 5) -> np.ndarray:
    """Tiled square grains of ``cell`` px, shifted by ``offset`` so the image edge cuts them."""
    idx = (np.arange(size) + (cell - offset)) // cell
    return (idx[:, None] * (idx.max() + 1) + idx[None, :] + 1).astype(np.uint32)


@pytest.fixture
def grid_mask() -> np.ndarray:
    """80x120 px boundary mask (255 = boundary): 1-px lines every 20 px -> 4 x 6 grains."""
    mask = np.zeros((80, 120), np.uint8)
    mask[19::20, :] = 255
    mask[:, 19::20] = 255
    return mask


@pytest.fixture(scope="session")
def tiny_sims(tmp_path_factory):
    """Four 64x64 simulated structures (images/masks/labels), made once per test session."""
    from napari_labourfree.jobs import run_job
    from napari_labourfree.phasefield.dataset import simulate_dataset
    from napari_labourfree.phasefield.params import GrowthParams

    out = tmp_path_factory.mktemp("sims") / "sim"
    params = GrowthParams(height=64, width=64, grains=10, steps=150)
    run_job(simulate_dataset(params, 6, out, seed=1, compile=False))
    return out


@pytest.fixture(scope="session")
def tiny_real(tiny_sims, tmp_path_factory):
    """'Real' images for style tests: the simulations with inverted contrast and noise."""
    import tifffile

    out = tmp_path_factory.mktemp("real")
    rng = np.random.default_rng(0)
    for path in sorted((tiny_sims / "images").glob("*.tif")):
        phi = tifffile.imread(path)
        image = (1 - phi) * 180 + 40 + rng.normal(0, 8, phi.shape)
        tifffile.imwrite(out / f"real_{path.name}", image.clip(0, 255).astype(np.uint8))
    return out


@pytest.fixture(scope="session")
def tiny_colour(tiny_sims, tmp_path_factory):
    """Tint-etched look-alikes: each simulated grain in a colour of its own, boundaries a
    little darker, noise; RGB uint8 TIFFs in images/, with the simulations' masks."""
    import shutil

    import tifffile

    out = tmp_path_factory.mktemp("colour")
    (out / "images").mkdir()
    shutil.copytree(tiny_sims / "masks", out / "masks")
    rng = np.random.default_rng(1)
    for path in sorted((tiny_sims / "images").glob("*.tif")):
        phi, labels = tifffile.imread(path), tifffile.imread(tiny_sims / "labels" / path.name)
        palette = rng.uniform(60, 230, (labels.max() + 1, 3))
        image = palette[labels] * (0.7 + 0.3 * phi[..., None]) + rng.normal(0, 6, (*phi.shape, 3))
        tifffile.imwrite(out / "images" / path.name, image.clip(0, 255).astype(np.uint8),
                         photometric="rgb")
    return out


@pytest.fixture
def errors(monkeypatch):
    """The error notifications a widget shows, instead of napari's pop-ups."""
    from napari_labourfree._widgets import _base

    seen = []
    monkeypatch.setattr(_base, "show_error", seen.append)
    return seen
