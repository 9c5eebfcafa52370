"""Colour (RGB) end to end: reading, normalising, tiling, a colour style and a colour U-Net
fine-tuned from a grey one."""

import numpy as np
import pytest
import tifffile
import torch

from napari_labourfree import checkpoints
from napari_labourfree.io.images import read_image
from napari_labourfree.jobs import run_job
from napari_labourfree.normalise import as_channels, colour_to_grey, to_network
from napari_labourfree.segmenter.augment import vary_colour
from napari_labourfree.segmenter.model import Segmenter
from napari_labourfree.segmenter.train import segmenter_config, train_segmenter
from napari_labourfree.segmenter.unet import build_unet, grey_to_colour
from napari_labourfree.style.model import StyleModel, synthesize
from napari_labourfree.style.train import style_config, train_style
from napari_labourfree.tiling import tiled_apply
from napari_labourfree.training_data import CropSampler

TINY_UNET = {"depth": 2, "base": 8, "crop_size": 48, "batch_size": 4, "val_fraction": 0.2}
TINY_STYLE = {"ngf": 4, "ndf": 4, "n_blocks": 1, "crop_size": 32, "iterations": 3}


def test_read_image_keeps_colour_only_when_asked(tiny_colour):
    path = next((tiny_colour / "images").glob("*.tif"))
    assert read_image(path, colour=True).data.shape == (64, 64, 3)
    assert read_image(path).data.shape == (64, 64)
    grey_rgb = tiny_colour / "grey.tif"
    tifffile.imwrite(grey_rgb, np.full((16, 16, 3), 7, np.uint8), photometric="rgb")
    assert read_image(grey_rgb, colour=True).data.shape == (16, 16)  # equal channels: grey


def test_colour_normalisation_keeps_hues_and_goes_channel_first():
    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[..., 0], rgb[..., 2] = 200, 50
    x = to_network(rgb)
    assert x.shape == (3, 32, 32)
    assert x[0].mean() > x[1].mean() and x[2].mean() > x[1].mean()  # one scale for all
    grey = np.arange(64, dtype=np.float32).reshape(8, 8)
    assert np.array_equal(as_channels(grey, 3), np.repeat(grey[..., None], 3, -1))
    assert np.array_equal(as_channels(rgb, 1), colour_to_grey(rgb))
    with pytest.raises(ValueError, match="1 .grey. or 3 .RGB."):
        as_channels(grey, 2)


def test_tiles_and_crops_carry_channels():
    rng = np.random.default_rng(0)
    image = rng.random((3, 100, 90), dtype=np.float32)
    out = run_job(tiled_apply(lambda b: b * 2, image, tile=48, overlap=8, multiple=16))
    assert out.shape == image.shape and np.allclose(out, image * 2, atol=1e-6)
    sampler = CropSampler([image], 32, rng, rotate=True, companions=[[image[0] > 0.5]])
    crops, masks = sampler.sample(5)
    assert crops.shape == (5, 3, 32, 32) and masks.shape == (5, 1, 32, 32)
    # the companion is cut at the same place and turned the same way as channel 0
    assert np.array_equal(crops[:, :1] > 0.5, masks > 0)
    with pytest.raises(ValueError, match="mix grey and colour"):
        CropSampler([image, image[0]], 32, rng)


def test_vary_colour_shuffles_channels_and_stays_in_range():
    g = torch.Generator().manual_seed(0)
    x = torch.stack([torch.full((8, 8), v) for v in (-0.8, 0.0, 0.8)])[None].repeat(16, 1, 1, 1)
    same = vary_colour(x, g, strength=0.0)
    orders = {tuple(same[i, :, 0, 0].tolist()) for i in range(16)}
    assert len(orders) > 1 and all(sorted(o) == [-0.8, 0.0, 0.8] for o in
                                   (tuple(round(v, 4) for v in o) for o in orders))
    varied = vary_colour(x, g)
    assert varied.shape == x.shape and varied.min() >= -1 and varied.max() <= 1
    assert not torch.allclose(varied.sort(1).values, x.sort(1).values)


def test_a_grey_unet_made_colour_gives_the_grey_answer_on_grey_input():
    net = build_unet({"name": "unet", "depth": 2, "base": 4, "channels": 1}).eval()
    tensors = {f"unet.{k}": v for k, v in net.state_dict().items()}
    colour = build_unet({"name": "unet", "depth": 2, "base": 4, "channels": 3}).eval()
    checkpoints.restore(grey_to_colour(tensors), {"unet": colour})
    x = torch.randn(1, 1, 32, 32)
    with torch.no_grad():
        assert torch.allclose(net(x), colour(x.repeat(1, 3, 1, 1)), atol=1e-5)
    with pytest.raises(checkpoints.CheckpointError, match="grey"):
        grey_to_colour(grey_to_colour(tensors))


@pytest.fixture(scope="module")
def grey_weights(tiny_sims, tmp_path_factory):
    out = tmp_path_factory.mktemp("grey") / "grey.safetensors"
    run_job(train_segmenter(tiny_sims, out, segmenter_config(epochs=1, steps_per_epoch=3,
                                                             **TINY_UNET)))
    return out


def test_grey_model_reads_rgb_along_its_strongest_contrast(grey_weights, tiny_colour):
    model = Segmenter.load(grey_weights)
    rgb = read_image(next((tiny_colour / "images").glob("*.tif")), colour=True).data
    assert model.channels == 1
    assert np.array_equal(run_job(model.probability(rgb)),
                          run_job(model.probability(colour_to_grey(rgb))))


def test_colour_unet_fine_tuned_from_grey_segments_rgb(grey_weights, tiny_colour, tiny_sims,
                                                       tmp_path):
    out = tmp_path / "colour.safetensors"
    config = segmenter_config(epochs=1, steps_per_epoch=3, channels=3, **TINY_UNET)
    # colour and grey folders train together: grey images come in repeated to RGB
    run_job(train_segmenter([tiny_colour, tiny_sims], out, config, init=grey_weights))
    header = checkpoints.read_header(out)
    assert header["config"]["architecture"]["channels"] == 3
    assert header["config"]["training"]["started_from"] == grey_weights.name
    model = Segmenter.load(out)
    rgb = read_image(next((tiny_colour / "images").glob("*.tif")), colour=True).data
    result = run_job(model.segment(rgb, grain_size="off"))
    assert result.labels.shape == rgb.shape[:2] and result.probability.shape == rgb.shape[:2]
    grey = run_job(model.probability(rgb[..., 0]))  # a grey image is repeated to RGB
    assert grey.shape == rgb.shape[:2]
    # a colour model does not start a grey one
    with pytest.raises(ValueError, match="channels"):
        train_segmenter(tiny_sims, tmp_path / "g.safetensors",
                        segmenter_config(epochs=1, steps_per_epoch=1, **TINY_UNET), init=out)


def test_colour_style_synthesizes_rgb_and_translates_back_to_grey(tiny_sims, tiny_colour,
                                                                  tmp_path):
    weights = tmp_path / "style.safetensors"
    events = []
    run_job(train_style(tiny_sims, tiny_colour, weights,
                        style_config(channels=3, preview_every=1, **TINY_STYLE)), events.append)
    assert events[-1].preview.shape[-1] == 3
    model = StyleModel.load(weights)
    assert model.channels == 3
    meta = run_job(synthesize(tiny_sims, weights, tmp_path / "syn"))
    image = tifffile.imread(tmp_path / "syn" / "images" / meta["images"][0])
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
    rgb = read_image(next((tiny_colour / "images").glob("*.tif")), colour=True).data
    assert run_job(model.to_simulation(rgb)).shape == (64, 64)
    with pytest.raises(ValueError, match="channels must be 1 .grey. or 3"):
        style_config(channels=2)


def test_tinted_simulations_colour_each_grain_and_keep_masks(tiny_sims, tmp_path):
    from napari_labourfree.derived import TINT_RANGE, tint_simulations

    meta = run_job(tint_simulations(tiny_sims, tmp_path / "tinted", seed=3))
    files = sorted((tmp_path / "tinted" / "images").glob("*.tif"))
    assert meta["completed"] == len(files) == 6 and meta["tint"] == list(TINT_RANGE)
    phi = tifffile.imread(tiny_sims / "images" / files[0].name)
    labels = tifffile.imread(tiny_sims / "labels" / files[0].name)
    tinted = tifffile.imread(files[0])
    colours = tinted / np.maximum(phi, 1e-6)[..., None]
    inside = phi > 0.9
    for k in np.unique(labels)[:5]:  # one colour per grain, within the tint range
        grain = colours[inside & (labels == k)]
        assert np.ptp(grain, axis=0).max() < 1e-4
        assert TINT_RANGE[0] - 1e-4 <= grain.min() and grain.max() <= TINT_RANGE[1] + 1e-4
    for sub in ("masks", "labels"):
        assert (tmp_path / "tinted" / sub / files[0].name).read_bytes() == \
            (tiny_sims / sub / files[0].name).read_bytes()
    again = run_job(tint_simulations(tiny_sims, tmp_path / "again", seed=3))
    assert again["completed"] == 6
    assert np.array_equal(tifffile.imread(tmp_path / "again" / "images" / files[0].name), tinted)


def test_style_trained_with_grain_tints_sees_and_synthesizes_tinted_grains(
        tiny_sims, tiny_colour, tmp_path, monkeypatch):
    from napari_labourfree import derived
    from napari_labourfree.style import model as style_model
    from napari_labourfree.style import train as style_train

    files = sorted((tiny_sims / "images").glob("*.tif"))
    # the same draw as the tinted copy the pipeline writes, structure by structure
    run_job(derived.tint_simulations(tiny_sims, tmp_path / "tinted", seed=5))
    for i in (0, 3):
        assert np.array_equal(derived.tinted_file(files[i], i, seed=5),
                              tifffile.imread(tmp_path / "tinted" / "images" / files[i].name))
    calls = []

    def spy(path, index, seed=0):
        calls.append((path.name, index, seed))
        return derived.tinted_file(path, index, seed)

    monkeypatch.setattr(style_train, "tinted_file", spy)
    monkeypatch.setattr(style_model, "tinted_file", spy)
    weights = tmp_path / "style.safetensors"
    run_job(train_style(tiny_sims, tiny_colour, weights,
                        style_config(channels=3, grain_tint=True, seed=5, **TINY_STYLE)))
    assert calls == [(p.name, i, 5) for i, p in enumerate(files)]
    assert StyleModel.load(weights).grain_tint
    calls.clear()
    meta = run_job(synthesize(tiny_sims, weights, tmp_path / "syn"))
    assert meta["grain_tint"] and calls == [(p.name, i, 5) for i, p in enumerate(files)]
    # a copy that is tinted already (the pipeline's) is not tinted twice, nor by 'auto'
    tinted = sorted((tmp_path / "tinted" / "images").glob("*.tif"))
    assert derived.is_tinted(tinted[0]) and not derived.is_tinted(files[0])
    assert np.array_equal(derived.tinted_file(tinted[0], 0, seed=9),
                          read_image(tinted[0], colour=True).data)
    assert not derived.grain_tint_for("auto", 3, tinted)
    for grey_too in (False, True):  # a grey model given tints reads them as grey levels
        config = style_config(channels=1 if grey_too else 3, grain_tint=True, seed=5,
                              **TINY_STYLE)
        out = tmp_path / f"again{grey_too}.safetensors"
        run_job(train_style(tmp_path / "tinted", tiny_colour, out, config))
        run_job(synthesize(tmp_path / "tinted", out, tmp_path / f"syn{grey_too}"))


def test_grain_tint_auto_needs_colour_and_labels(tiny_sims, tmp_path):
    from napari_labourfree.derived import grain_tint_for
    from napari_labourfree.training_data import simulation_files

    files = simulation_files(tiny_sims)
    assert grain_tint_for("auto", 3, files) and grain_tint_for("auto", 3)
    assert not grain_tint_for("auto", 1, files) and grain_tint_for("on", 1, files)
    assert not grain_tint_for("off", 3, files)
    layer = tifffile.imread(files[0])
    assert not grain_tint_for("auto", 3, [*files, layer])  # a layer has no labels
    lone = tmp_path / "images" / "s.tif"
    lone.parent.mkdir()
    tifffile.imwrite(lone, layer)
    assert not grain_tint_for("auto", 3, [lone])
    with pytest.raises(ValueError, match="grain tint must be one of auto, on, off"):
        grain_tint_for("yes", 3)


def test_grain_tint_refusals(tiny_sims, tiny_colour, tmp_path):
    with pytest.raises(ValueError, match="grain_tint is True or False"):
        style_config(channels=3, grain_tint="yes")
    config = style_config(channels=3, grain_tint=True, **TINY_STYLE)
    phi = tifffile.imread(next((tiny_sims / "images").glob("*.tif")))
    with pytest.raises(ValueError, match="not image layers"):
        train_style([phi], tiny_colour, tmp_path / "a.safetensors", config)
    unlabelled = tmp_path / "unlabelled"
    (unlabelled / "images").mkdir(parents=True)
    tifffile.imwrite(unlabelled / "images" / "s.tif", phi)
    with pytest.raises(FileNotFoundError, match="labels.s.tif is missing"):
        train_style(unlabelled, tiny_colour, tmp_path / "b.safetensors", config)
    weights = tmp_path / "plain.safetensors"
    run_job(train_style(tiny_sims, tiny_colour, weights,
                        style_config(channels=3, **TINY_STYLE)))
    with pytest.raises(ValueError, match="trained without grain tints; resume with grain "
                                         "tint off .or auto."):
        train_style(tiny_sims, tiny_colour, weights, config, resume=True)


def test_resume_keeps_the_weights_own_grain_tint(tiny_sims, tiny_colour, tmp_path):
    import json

    from safetensors import safe_open
    from safetensors.torch import save_file

    from napari_labourfree.style.train import choose_grain_tint

    weights = tmp_path / "old.safetensors"
    run_job(train_style(tiny_sims, tiny_colour, weights, style_config(channels=3, **TINY_STYLE)))
    # weights written before grain tints existed have no such key
    with safe_open(weights, "pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
        header = json.loads(f.metadata()["labourfree"])
    del header["config"]["training"]["grain_tint"]
    save_file(tensors, weights, metadata={"labourfree": json.dumps(header)})
    assert choose_grain_tint("auto", 3, tiny_sims) is True  # a fresh colour style: tints
    assert choose_grain_tint("auto", 3, tiny_sims, weights, resume=True) is False
    more = style_config(channels=3, grain_tint=False, **{**TINY_STYLE, "iterations": 4})
    run_job(train_style(tiny_sims, tiny_colour, weights, more, resume=True))
    assert checkpoints.read_header(weights)["config"]["training"]["iteration"] == 4
