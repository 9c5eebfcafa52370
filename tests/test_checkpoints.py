"""Weights files: round trips, and clear errors for damaged, foreign or wrong-kind files."""

import json

import pytest
import torch
from safetensors.torch import save_file

from napari_labourfree import checkpoints
from napari_labourfree.checkpoints import CheckpointError
from napari_labourfree.segmenter.model import Segmenter
from napari_labourfree.segmenter.unet import UNet
from napari_labourfree.style.model import StyleModel
from napari_labourfree.style.networks import init_weights
from napari_labourfree.style.train import CycleGAN

UNET_ARCH = {"name": "unet", "depth": 2, "base": 4, "channels": 1}
STYLE_ARCH = {"name": "cyclegan-resnet", "ngf": 4, "ndf": 4, "n_blocks": 1, "channels": 1}
NORM = {"method": "percentile", "low": 0.5, "high": 99.5}


def save_unet(path, arch=UNET_ARCH, net=None):
    net = net or UNet(arch["depth"], arch["base"])
    config = {"architecture": arch, "normalisation": NORM, "threshold": 0.5, "training": {}}
    checkpoints.save(path, "segmenter", config, {"unet": net})
    return net


def test_segmenter_round_trip_is_bit_identical(tmp_path):
    torch.manual_seed(0)
    net = UNet(2, 4)
    with torch.no_grad():  # non-trivial batch-norm statistics
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    save_unet(tmp_path / "u.safetensors", net=net)
    loaded = Segmenter.load(tmp_path / "u.safetensors")
    saved, again = net.state_dict(), loaded.net.state_dict()
    assert saved.keys() == again.keys()
    assert all(torch.equal(saved[k], again[k]) for k in saved)  # the weights, bit for bit
    x = torch.randn(2, 1, 32, 32)
    with torch.no_grad():  # loaded models run channels-last: same sums, another order
        torch.testing.assert_close(net.eval()(x), loaded.net(x), rtol=0, atol=1e-5)


def test_style_round_trip_is_bit_identical(tmp_path):
    torch.manual_seed(0)
    model = CycleGAN(STYLE_ARCH)
    init_weights(model)
    config = {"architecture": STYLE_ARCH, "normalisation": NORM, "training": {}}
    checkpoints.save(tmp_path / "s.safetensors", "style", config, model.modules_to_save())
    loaded = StyleModel.load(tmp_path / "s.safetensors")
    x = torch.randn(1, 1, 32, 32)
    with torch.no_grad():
        assert torch.equal(model.F(x), loaded.F(x)) and torch.equal(model.G(x), loaded.G(x))


def test_optimizer_state_round_trip(tmp_path):
    net = UNet(1, 2)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net(torch.randn(1, 1, 8, 8)).sum().backward()
    opt.step()
    config = {"architecture": {**UNET_ARCH, "depth": 1, "base": 2}, "normalisation": NORM}
    checkpoints.save(tmp_path / "o.safetensors", "segmenter", config,
                     {"unet": net}, {"unet": opt})
    header, tensors = checkpoints.load(tmp_path / "o.safetensors", "segmenter")
    fresh = torch.optim.Adam(UNet(1, 2).parameters(), lr=5.0)
    checkpoints.restore_optimizers(header, tensors, {"unet": fresh})
    assert fresh.param_groups[0]["lr"] == 1e-3
    first = next(iter(opt.state.values()))["exp_avg"]
    assert torch.equal(next(iter(fresh.state.values()))["exp_avg"], first)


def test_damaged_file(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(b"\x00\x01 not a safetensors file at all")
    with pytest.raises(CheckpointError, match="not a safetensors file or is damaged"):
        Segmenter.load(path)


def test_truncated_file(tmp_path):
    save_unet(tmp_path / "u.safetensors")
    data = (tmp_path / "u.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError):
        Segmenter.load(tmp_path / "cut.safetensors")


def test_foreign_safetensors(tmp_path):
    save_file({"w": torch.zeros(3)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(CheckpointError, match="not napari-labourfree weights"):
        Segmenter.load(tmp_path / "other.safetensors")


def test_wrong_kind(tmp_path):
    model = CycleGAN(STYLE_ARCH)
    config = {"architecture": STYLE_ARCH, "normalisation": NORM, "training": {}}
    checkpoints.save(tmp_path / "s.safetensors", "style", config, model.modules_to_save())
    with pytest.raises(CheckpointError, match="holds style \\(CycleGAN\\) weights, not "
                                              "segmenter"):
        Segmenter.load(tmp_path / "s.safetensors")
    save_unet(tmp_path / "u.safetensors")
    with pytest.raises(CheckpointError, match="segmenter \\(U-Net\\) weights, not style"):
        StyleModel.load(tmp_path / "u.safetensors")


def test_weights_that_do_not_fit_their_architecture(tmp_path):
    path = tmp_path / "u.safetensors"
    save_unet(path, net=UNet(2, 8))  # header says base 4, tensors are base 8
    with pytest.raises(CheckpointError, match="do not fit the architecture"):
        Segmenter.load(path)


def test_unknown_architecture_and_newer_format(tmp_path):
    save_unet(tmp_path / "u.safetensors", arch={**UNET_ARCH, "name": "transformer"})
    with pytest.raises(CheckpointError, match="unknown segmenter architecture"):
        Segmenter.load(tmp_path / "u.safetensors")
    header = {"format": "napari-labourfree", "version": 99, "kind": "segmenter"}
    save_file({"w": torch.zeros(1)}, str(tmp_path / "new.safetensors"),
              metadata={"labourfree": json.dumps(header)})
    with pytest.raises(CheckpointError, match="newer napari-labourfree"):
        Segmenter.load(tmp_path / "new.safetensors")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        Segmenter.load(tmp_path / "none.safetensors")


def test_saving_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "u.safetensors"
    save_unet(path)
    before = path.read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("safetensors.torch.save_file", full_disk)
    with pytest.raises(OSError):
        save_unet(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["u.safetensors"]
