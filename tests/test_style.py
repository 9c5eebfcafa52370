"""CycleGAN training job: it learns, it saves, it cancels cleanly, it resumes."""

import numpy as np
import pytest
import tifffile
from scipy import ndimage

from napari_labourfree import checkpoints
from napari_labourfree.jobs import run_job
from napari_labourfree.style.model import StyleModel, synthesize
from napari_labourfree.style.train import style_config, train_style

TINY = {"ngf": 8, "ndf": 8, "n_blocks": 2, "crop_size": 48, "preview_every": 10,
        "checkpoint_every": 1000, "pool_size": 10}


@pytest.mark.slow
def test_losses_fall_on_a_toy_pair_of_domains(tiny_sims, tiny_real, tmp_path):
    events = []
    config = style_config("fast", iterations=120, **TINY)
    run_job(train_style(tiny_sims, tiny_real, tmp_path / "s.safetensors", config),
            events.append)
    steps = [e for e in events if e.losses]
    first = np.mean([e.losses["cycle"] for e in steps[:15]])
    last = np.mean([e.losses["cycle"] for e in steps[-15:]])
    assert last < 0.6 * first
    previews = [e for e in events if e.preview is not None]
    assert [e.step for e in previews] == list(range(10, 121, 10))
    assert previews[-1].preview.min() >= 0 and previews[-1].preview.max() <= 1
    # F has learned the real domain's overall look: dark, where phi is mostly bright
    model = StyleModel.load(tmp_path / "s.safetensors")
    phi = tifffile.imread(min((tiny_sims / "images").glob("*.tif")))
    styled = run_job(model.to_real(phi))
    real = tifffile.imread(min(tiny_real.glob("*.tif"))) / 255
    sim_look = (phi - phi.min()) / np.ptp(phi)
    assert abs(styled.mean() - real.mean()) < 0.5 * abs(styled.mean() - sim_look.mean())


def test_cancel_saves_a_loadable_checkpoint_and_resume_continues(tiny_sims, tiny_real,
                                                                  tmp_path):
    out = tmp_path / "s.safetensors"
    config = style_config("fast", iterations=12, **TINY)
    job = train_style(tiny_sims, tiny_real, out, config)
    for event in job:
        if event.step == 5 and event.losses:
            job.close()  # what Cancel and Ctrl-C do
            break
    header = checkpoints.read_header(out)
    assert header["config"]["training"]["iteration"] == 5
    StyleModel.load(out)
    events = []
    run_job(train_style(tiny_sims, tiny_real, out, config, resume=True), events.append)
    steps = [e.step for e in events if e.losses]
    assert steps[0] == 6 and steps[-1] == 12
    assert checkpoints.read_header(out)["config"]["training"]["iteration"] == 12


def test_refuses_to_replace_weights_or_resume_another_architecture(tiny_sims, tiny_real,
                                                                    tmp_path):
    out = tmp_path / "s.safetensors"
    run_job(train_style(tiny_sims, tiny_real, out, style_config("fast", iterations=2, **TINY)))
    with pytest.raises(FileExistsError, match="resume"):
        train_style(tiny_sims, tiny_real, out, style_config("fast", iterations=2, **TINY))
    with pytest.raises(ValueError, match="same architecture"):
        train_style(tiny_sims, tiny_real, out,
                    style_config("fast", iterations=4, **{**TINY, "ngf": 4}), resume=True)
    with pytest.raises(FileNotFoundError):
        train_style(tiny_sims, tmp_path / "no-real", tmp_path / "t.safetensors")


def test_config_errors():
    with pytest.raises(ValueError, match="unknown preset"):
        style_config("huge")
    with pytest.raises(ValueError, match="multiple of 4"):
        style_config("fast", crop_size=50)
    with pytest.raises(ValueError, match="unknown style settings"):
        style_config("fast", colour=True)
    assert style_config("paper").n_blocks == 9 and style_config("paper").ngf == 64


def test_synthesize_copies_masks_and_labels(tiny_sims, tiny_real, tmp_path):
    weights = tmp_path / "s.safetensors"
    run_job(train_style(tiny_sims, tiny_real, weights, style_config("fast", iterations=2,
                                                                     **TINY)))
    meta = run_job(synthesize(tiny_sims, weights, tmp_path / "syn"))
    assert meta["completed"] == 6
    shift = tuple(meta["mask_shift_px"])
    for name in meta["images"]:
        image = tifffile.imread(tmp_path / "syn" / "images" / name)
        assert image.dtype == np.uint8 and image.shape == (64, 64)
        for sub in ("masks", "labels"):
            written, source = tmp_path / "syn" / sub / name, tiny_sims / sub / name
            if shift == (0, 0):
                assert written.read_bytes() == source.read_bytes()
            np.testing.assert_array_equal(tifffile.imread(written),
                                          np.roll(tifffile.imread(source), shift, (0, 1)))
    with pytest.raises(ValueError, match="not empty"):
        synthesize(tiny_sims, weights, tmp_path / "syn")


def _grains(seed: int, size: int = 96, grains: int = 14):
    """A periodic Voronoi label image and its 1-px-wide boundary lines."""
    from scipy.spatial import cKDTree

    from napari_labourfree.analysis.instances import boundaries_from_labels

    rng = np.random.default_rng(seed)
    points = rng.uniform(0, size, (grains, 2))
    tiles = np.concatenate([points + (dy, dx) for dy in (-size, 0, size)
                            for dx in (-size, 0, size)])
    yy, xx = np.mgrid[:size, :size]
    _, nearest = cKDTree(tiles).query(np.c_[yy.ravel(), xx.ravel()])
    labels = (nearest % grains).reshape(size, size) + 1
    return labels, boundaries_from_labels(labels)


@pytest.mark.parametrize("shift", [(3, -2), (0, 4), (0, 0), (-5, -5)])
def test_structure_shift_finds_where_a_look_moved_the_structure(shift):
    from napari_labourfree.style.registration import structure_shift

    pairs = []
    for seed in range(3):
        labels, lines = _grains(seed)
        simulation = np.where(lines, 0.1, 0.8).astype(np.float32)
        # another look: bright lines, grain shades, blur and heavy noise, moved
        rng = np.random.default_rng(seed)
        look = np.where(lines, 0.9, 0.3 + 0.2 * rng.random(labels.max() + 1)[labels])
        look = ndimage.gaussian_filter(look, 1) + rng.normal(0, 0.15, look.shape)
        pairs.append((simulation, np.roll(look, shift, (0, 1))))
    assert structure_shift(pairs) == shift
    # only pairs of the first pair's shape are pooled
    assert structure_shift([*pairs, (np.zeros((40, 40)), np.zeros((40, 40)))]) == shift
    with pytest.raises(ValueError, match="at least one"):
        structure_shift([])


def test_a_shift_is_used_only_when_both_halves_of_the_pairs_agree():
    from napari_labourfree.style.registration import agreed_shift

    def pairs(shifts):
        out = []
        for seed, shift in enumerate(shifts):
            labels, lines = _grains(seed)
            look = np.where(lines, 0.9, 0.4) + np.random.default_rng(seed).normal(
                0, 0.1, lines.shape)
            out.append((lines.astype(np.float32), np.roll(look, shift, (0, 1))))
        return out

    shift, found = agreed_shift(pairs([(2, -3)] * 4))
    assert shift == (2, -3) and found["halves"] == [[2, -3], [2, -3]]
    shift, found = agreed_shift(pairs([(0, 0), (0, 0), (5, 6), (5, 6)]))
    assert shift == (0, 0) and "disagree" in found["note"]
    assert agreed_shift(pairs([(1, 1)]))[0] == (1, 1)  # one pair: nothing to check it by


def test_synthesize_moves_masks_onto_the_lines_the_model_drew(tiny_sims, tiny_real,
                                                              tmp_path, monkeypatch):
    """A style model that draws the structure 3 px down and 2 px left: the masks and
    labels written beside its images are moved by as much, so they lie on its lines."""
    from napari_labourfree.style import model as style_model

    weights = tmp_path / "s.safetensors"
    run_job(train_style(tiny_sims, tiny_real, weights, style_config("fast", iterations=1,
                                                                     **TINY)))

    def moved_look(self, image, tile=1024, overlap=128):
        yield from ()
        unit = (image - image.min()) / max(float(np.ptp(image)), 1e-6)
        return np.roll(1 - unit, (3, -2), (0, 1)).astype(np.float32)  # bright lines

    monkeypatch.setattr(style_model.StyleModel, "to_real", moved_look)
    meta = run_job(synthesize(tiny_sims, weights, tmp_path / "syn"))
    assert meta["mask_shift_px"] == [3, -2]
    for name in meta["images"]:
        image = tifffile.imread(tmp_path / "syn" / "images" / name).astype(float)
        mask = tifffile.imread(tmp_path / "syn" / "masks" / name) > 0
        unmoved = tifffile.imread(tiny_sims / "masks" / name) > 0
        assert image[mask].mean() > image[unmoved].mean() + 20  # on the drawn lines
        np.testing.assert_array_equal(tifffile.imread(tmp_path / "syn" / "labels" / name),
                                      np.roll(tifffile.imread(tiny_sims / "labels" / name),
                                              (3, -2), (0, 1)))


def _nyquist_share(image: np.ndarray) -> float:
    """Share of the (non-DC) spectral power at the checkerboard frequencies."""
    power = np.abs(np.fft.fft2(image - image.mean())) ** 2
    h, w = image.shape
    return float((power[h // 2, :].sum() + power[:, w // 2].sum()) / power.sum())


@pytest.mark.parametrize("upsample, checkerboard", [("resize", False), ("transpose", True)])
def test_resize_upsampling_leaves_no_checkerboard(upsample, checkerboard):
    import torch

    from napari_labourfree.style.networks import ResnetGenerator, init_weights

    torch.manual_seed(0)
    net = ResnetGenerator(ngf=8, n_blocks=1, upsample=upsample)
    init_weights(net)
    y, x = np.mgrid[0:64, 0:64] / 64
    smooth = np.sin(2 * np.pi * x) * np.cos(2 * np.pi * y)  # no power at Nyquist
    with torch.no_grad():
        out = net(torch.tensor(smooth, dtype=torch.float32)[None, None])[0, 0].numpy()
    share = _nyquist_share(out[8:-8, 8:-8])  # borders apart: reflection padding
    assert (share > 0.05) if checkerboard else (share < 0.01), share


def test_style_weights_from_before_resize_upsampling_still_load(tiny_sims, tiny_real, tmp_path):
    import torch

    from napari_labourfree.style.train import CycleGAN

    config = style_config(iterations=1, crop_size=32, upsample="transpose")
    out = run_job(train_style(tiny_sims, [tiny_real], tmp_path / "old.safetensors", config))
    header, tensors = checkpoints.load(out, checkpoints.STYLE)
    model = CycleGAN(header["config"]["architecture"])
    checkpoints.restore(tensors, model.modules_to_save())
    del header["config"]["architecture"]["upsample"]  # as written before the option
    checkpoints.save(out, checkpoints.STYLE, header["config"], model.modules_to_save())
    loaded = StyleModel.load(out)
    assert any(isinstance(m, torch.nn.ConvTranspose2d) for m in loaded.F.modules())
    assert style_config().architecture()["upsample"] == "resize"


@pytest.mark.parametrize("variant", ["cut", "fastcut"])
def test_cut_trains_one_generator_that_synthesizes(variant, tiny_sims, tiny_real, tmp_path):
    config = style_config(model=variant, iterations=3, crop_size=32, ngf=4, ndf=4,
                          n_blocks=1)
    out = run_job(train_style(tiny_sims, [tiny_real], tmp_path / "cut.safetensors", config))
    header, tensors = checkpoints.load(out, checkpoints.STYLE)
    assert header["config"]["architecture"]["name"] == "cut-resnet"
    assert not any(k.startswith("G.") for k in tensors)  # one generator only
    model = StyleModel.load(out)
    with pytest.raises(ValueError, match="translates simulations to the real look only"):
        run_job(model.to_simulation(np.zeros((32, 32), np.float32)))
    meta = run_job(synthesize(tiny_sims, out, tmp_path / "syn"))
    assert meta["completed"] == len(list((tiny_sims / "images").glob("*.tif")))
    # resuming continues the same model; another kind is refused
    run_job(train_style(tiny_sims, [tiny_real], out, style_config(
        model=variant, iterations=4, crop_size=32, ngf=4, ndf=4, n_blocks=1), resume=True))
    with pytest.raises(ValueError, match="resume with the same architecture"):
        train_style(tiny_sims, [tiny_real], out, style_config(
            iterations=5, crop_size=32, ngf=4, ndf=4, n_blocks=1), resume=True)


def test_patch_nce_picks_out_the_patch_at_the_same_place():
    import torch

    from napari_labourfree.style.cut import CUT

    torch.manual_seed(0)
    model = CUT(style_config(model="cut", ngf=4, ndf=4, n_blocks=1).architecture())
    x = torch.rand(1, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        same = model.patch_nce(x, x).item()
        other = model.patch_nce(x, torch.rand(1, 1, 32, 32) * 2 - 1).item()
    assert same < 0.7 * other, (same, other)


def test_unknown_style_model_is_refused():
    with pytest.raises(ValueError, match="style model must be one of cyclegan, cut, fastcut"):
        style_config(model="unit")
