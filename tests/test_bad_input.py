"""The bad-input and fault suite: every case a careful user tried, each a regression test.

Grow the tables with each new option. A case passes when the command refuses with a clear
one-line message naming the problem (exit 2), or, for a batch, names the bad file and
finishes the others (exit 1), and nothing the user had is damaged.
"""

import errno
import json
import os

import numpy as np
import pytest
import tifffile
import torch

from napari_labourfree import checkpoints
from napari_labourfree.cli import main
from napari_labourfree.io.folders import LOCK_NAME, FolderLock


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A grey micrograph, a NaN image, a label image and a boundary mask."""
    from napari_labourfree._sample_data import synthetic_micrograph

    root = tmp_path_factory.mktemp("inputs")
    (image, _, _), (truth, _, _) = synthetic_micrograph()
    tifffile.imwrite(root / "grey.tif", image[:128, :128])
    tifffile.imwrite(root / "nan.tif", np.full((64, 64), np.nan, np.float32))
    labels = np.zeros((60, 80), np.uint32)
    labels[:30], labels[30:] = 3, 9
    tifffile.imwrite(root / "labels.tif", labels)
    tifffile.imwrite(root / "truth.tif", truth[:128, :128])
    return root


def _fill(args, files, tmp_path, sims=None):
    return [a.format(f=files, t=tmp_path, s=sims) for a in args]


# (command line, exit status, message fragment); {f} = the inputs, {t} = a fresh folder
REFUSED = [
    (["segment", "{f}/grey.tif", "--out", "{t}/o", "--pixel-size", "0"], "pixel size must be"),
    (["segment", "{f}/grey.tif", "--out", "{t}/o", "--pixel-size", "1e300"], "out of range"),
    (["segment", "{f}/grey.tif", "--out", "{t}/o", "--pixel-size", "1e-300"], "out of range"),
    (["segment", "{f}/grey.tif", "--out", "{t}/o", "--pixel-size", "nan"], "pixel size must"),
    (["segment", "{f}/grey.tif", "--out", "{t}/o", "--threshold", "nan"], "threshold must"),
    (["segment", "{f}/grey.tif", "--out", "{t}/o", "--threshold", "1.5"], "threshold must"),
    (["segment", "{f}/grey.tif", "--out", "{t}/o", "--threshold", "0"], "threshold must"),
    (["segment", "{f}/grey.tif", "--out", "{t}/o", "--overlap", "-100"], "overlap must"),
    (["segment", "{f}", "--out", "{f}", "--overwrite"], "is the input folder"),
    (["segment", "{f}", "--out", "{f}/sub"], "lies inside the input folder"),
    (["segment", "{f}/grey.tif", "--out", "{t}/o", "--chunk", "256", "--close-gaps", "3"],
     "--close-gaps is not available for images segmented window by window"),
    (["segment", "{f}/labels.tif.zarr", "--out", "{t}/o"], "no such file or folder"),
    (["simulate", "--count", "2", "--out", "{t}/s", "--workers", "2", "--batch-size", "2"],
     "--batch-size is for the in-process run"),
    (["grains", "{f}/labels.tif", "--out", "{t}/o", "--pixel-size", "0"], "pixel size must"),
    (["grains", "{f}", "--out", "{f}", "--overwrite"], "is the input folder"),
    (["evaluate", "--pred", "{f}/truth.tif", "--truth", "{f}/truth.tif", "--tolerance",
      "nan"], "tolerance must be a finite"),
    (["evaluate", "--pred", "{f}/truth.tif", "--truth", "{f}/truth.tif", "--tolerance",
      "-1"], "tolerance must be a finite"),
    (["pipeline", "--real", "{f}/grey.tif", "--out", "{t}/p", "--count", "0"],
     "count must be a whole number of at least 1"),
    (["pipeline", "--real", "{f}/grey.tif", "--out", "{t}/p", "--iterations", "-5"],
     "iterations must be"),
    (["pipeline", "--real", "{f}/grey.tif", "--out", "{t}/p", "--epochs", "0"],
     "epochs must be"),
    (["pipeline", "--real", "{f}/nan.tif", "--out", "{t}/p"], "nan.tif contains NaN"),
    (["pipeline", "--real", "{f}", "--out", "{f}/run"], "lies inside the input folder"),
    (["pipeline", "--real", "{f}/grey.tif", "--out", "{t}/p", "--pixel-size", "0"],
     "pixel size must"),
    (["pipeline", "--real", "{f}/grey.tif", "--out", "{t}/p", "--grain-size", "nan"],
     "grain size must be a diameter between 2 and 10000 px"),
    (["pipeline", "--real", "{f}/grey.tif", "--out", "{t}/p", "--grain-size", "0"],
     "grain size must be a diameter between 2 and 10000 px"),
    (["pipeline", "--real", "{f}/grey.tif", "--out", "{t}/p", "--grain-size", "1e6"],
     "grain size must be a diameter between 2 and 10000 px"),
    (["pipeline", "--real", "{f}/grey.tif", "--out", "{t}/p", "--grain-size", "big"],
     "grain size must be 'auto', 'preset' or a diameter in px"),
    (["pipeline", "--real", "{f}/grey.tif", "--out", "{t}/p", "--particles", "0.5"],
     "particles must be an area fraction from 0 to 0.2"),
    (["pipeline", "--real", "{f}/grey.tif", "--out", "{t}/p", "--particles", "-0.01"],
     "particles must be an area fraction from 0 to 0.2"),
    (["pipeline", "--real", "{f}/grey.tif", "--out", "{t}/p", "--particles", "nan"],
     "particles must be an area fraction from 0 to 0.2"),
    (["pipeline", "--real", "{f}/grey.tif", "--out", "{t}/p", "--particles", "many"],
     "particles must be 'auto' or an area fraction"),
    (["pipeline", "--real", "{f}/grey.tif", "--out", "{t}/p", "--seed", "-1"],
     "seed must be a whole number of at least 0"),
    (["synthesize", "--sim", "{s}", "--style", "{t}/none.safetensors", "--out", "{s}",
      "--overwrite"], "is the input folder"),
    (["train-segmenter", "--data", "{s}", "--out", "{f}/grey.tif/w.safetensors"],
     "cannot write into"),
    (["train-style", "--sim", "{s}", "--real", "{f}/grey.tif", "--out",
      "{f}/grey.tif/w.safetensors"], "cannot write into"),
    (["train-segmenter", "--data", "{s}", "--out", "{t}/w.safetensors", "--lr", "inf"],
     "lr must be a finite number"),
    (["train-style", "--sim", "{s}", "--real", "{f}/grey.tif", "--out", "{t}/w.safetensors",
      "--lambda-cycle", "nan"], "lambda cycle must be a finite number"),
    (["train-style", "--sim", "{s}", "--real", "{f}/grey.tif", "--out", "{t}/w.safetensors",
      "--lambda-cycle", "-1"], "must not be negative"),
    (["train-style", "--sim", "{f}", "--real", "{f}/grey.tif", "--out", "{t}/w.safetensors",
      "--grain-tint", "on"], "grain tints need each simulation's grain labels"),
]


@pytest.mark.parametrize("args, message", REFUSED, ids=[" ".join(a[:1] + a[3:]) for a, _ in
                                                       REFUSED])
def test_refused_at_once_with_a_clear_message(args, message, files, tiny_sims, tmp_path,
                                              capsys):
    before = sorted(p.name for p in files.rglob("*"))
    sims_before = sorted(p.name for p in tiny_sims.rglob("*"))
    assert main(_fill(args, files, tmp_path, tiny_sims)) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) <= 2  # one line (plus the command's banner)
    assert sorted(p.name for p in files.rglob("*")) == before  # nothing of the user's touched
    assert sorted(p.name for p in tiny_sims.rglob("*")) == sims_before
    assert not (tmp_path / "p" / "simulations").exists()  # pipeline: refused before work


def test_simulate_crash_at_count_19_size_64_is_gone(tmp_path):
    # structure 18's Lloyd seeds once landed on the edge of the periodic box
    args = ["simulate", "--count", "19", "--size", "64", "--grains", "8", "--steps", "2",
            "--seed", "0", "--no-compile", "--quiet", "--out", str(tmp_path / "s")]
    assert main(args) == 0
    assert len(list((tmp_path / "s" / "masks").glob("*.tif"))) == 19


def test_a_locked_output_folder_is_refused_and_names_its_holder(tmp_path, capsys):
    out = tmp_path / "sims"
    args = ["simulate", "--count", "1", "--size", "32", "--grains", "4", "--steps", "2",
            "--no-compile", "--quiet", "--out", str(out)]
    with FolderLock(out, "simulate"):
        assert main(args + ["--overwrite"]) == 2
        err = capsys.readouterr().err
        assert f"is in use by `labourfree simulate` (pid {os.getpid()}" in err
    assert not (out / LOCK_NAME).exists()
    assert main(args) == 0  # the lock file itself does not make the folder 'not empty'
    assert not (out / LOCK_NAME).exists()  # released after the run


def test_a_stale_lock_is_taken_over(tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    dead = 2**22 + 12345  # above Linux's default pid_max: no such process
    (out / LOCK_NAME).write_text(json.dumps({"pid": dead, "host": os.uname().nodename,
                                             "command": "segment"}))
    import socket

    if socket.gethostname() != os.uname().nodename:
        pytest.skip("host name differs between socket and uname here")
    with FolderLock(out, "grains") as lock:
        assert json.loads(lock.path.read_text())["pid"] == os.getpid()


def test_a_job_never_run_lets_go_of_its_folder(tmp_path):
    import gc

    from napari_labourfree.phasefield.dataset import simulate_dataset
    from napari_labourfree.phasefield.params import GrowthParams

    job = simulate_dataset(GrowthParams(height=32, width=32, grains=4, steps=2), 1,
                           tmp_path / "s")
    assert (tmp_path / "s" / LOCK_NAME).exists()
    del job
    gc.collect()
    assert not (tmp_path / "s" / LOCK_NAME).exists()


def test_a_full_disk_names_the_file_and_leaves_no_partial_structure(tmp_path, monkeypatch,
                                                                     capsys):
    real_imwrite, calls = tifffile.imwrite, []

    def imwrite(path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 5:  # structure 1: image written, mask fails
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_imwrite(path, *args, **kwargs)

    monkeypatch.setattr(tifffile, "imwrite", imwrite)
    out = tmp_path / "s"
    assert main(["simulate", "--count", "3", "--size", "32", "--grains", "4", "--steps", "2",
                 "--no-compile", "--quiet", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "the disk is full" in err and "structure_0001.tif" in err and "()" not in err
    for sub in ("images", "masks", "labels"):
        assert [p.name for p in (out / sub).glob("*.tif")] == ["structure_0000.tif"], sub
    assert not list(out.rglob("*.part"))


def test_a_bad_file_in_a_segment_batch_is_named_and_the_rest_finish(files, tmp_path, capsys):
    assert main(["segment", str(files / "nan.tif"), str(files / "grey.tif"), "--out",
                 str(tmp_path / "o"), "--quiet", "--grain-size", "20"]) == 1
    err = capsys.readouterr().err
    assert "error: nan.tif: " in err and "NaN" in err and "1 of 2 image(s) failed" in err
    assert (tmp_path / "o" / "grey_grains.csv").is_file()
    assert not list((tmp_path / "o").glob("nan_*"))


def test_grains_keeps_huge_ids(files, tmp_path):
    labels = np.zeros((40, 50), np.uint32)
    labels[:20], labels[20:] = 4_000_000_000, 7
    tifffile.imwrite(tmp_path / "big.tif", labels)
    assert main(["grains", str(tmp_path / "big.tif"), "--out", str(tmp_path / "g.csv"),
                 "--input", "labels"]) == 0
    from napari_labourfree.io.tables import read_csv

    table = read_csv(tmp_path / "g.csv")
    assert sorted(table["label"].tolist()) == [7, 4_000_000_000]
    assert table["touches_border"].all()


# --- weights -------------------------------------------------------------------------

UNET = {"name": "unet", "depth": 1, "base": 2, "channels": 1}
NORM = {"method": "percentile", "low": 0.5, "high": 99.5}
BAD_HEADERS = [
    ("a list", [1, 2], "header is a list"),
    ("string version", {"version": "1"}, "version must be a whole number"),
    ("no architecture", {"config": {"normalisation": NORM}}, "architecture is missing"),
    ("no normalisation", {"config": {"architecture": UNET}}, "normalisation recipe is a dict"),
    ("threshold high", {"config": {"architecture": UNET, "normalisation": NORM,
                                   "threshold": "high"}}, "threshold must be a number"),
    ("threshold 5", {"config": {"architecture": UNET, "normalisation": NORM,
                                "threshold": 5}}, "threshold must be a number"),
    ("swapped percentiles", {"config": {"architecture": UNET, "normalisation": {
        **NORM, "low": 99.5, "high": 0.5}}}, "percentiles are swapped"),
    ("depth 'two'", {"config": {"architecture": {**UNET, "depth": "two"},
                                "normalisation": NORM}}, "'depth' must be a whole number"),
]


@pytest.mark.parametrize("header_change, message", [c[1:] for c in BAD_HEADERS],
                         ids=[c[0] for c in BAD_HEADERS])
def test_weights_headers_of_the_wrong_shape_are_refused(header_change, message, tmp_path):
    from safetensors.torch import save_file

    from napari_labourfree.segmenter.model import Segmenter
    from napari_labourfree.segmenter.unet import UNet

    header = {"format": "napari-labourfree", "version": 1, "kind": "segmenter",
              "config": {"architecture": UNET, "normalisation": NORM}}
    header = header_change if isinstance(header_change, list) else {**header, **header_change}
    tensors = {f"unet.{k}": v for k, v in UNet(1, 2).state_dict().items()}
    save_file(tensors, str(tmp_path / "w.safetensors"),
              metadata={"labourfree": json.dumps(header)})
    with pytest.raises(checkpoints.CheckpointError, match=message):
        Segmenter.load(tmp_path / "w.safetensors")


def test_weights_with_nan_are_refused(tmp_path):
    from napari_labourfree.segmenter.model import Segmenter
    from napari_labourfree.segmenter.unet import UNet

    net = UNet(1, 2)
    with torch.no_grad():
        next(net.parameters())[0] = float("nan")
    checkpoints.save(tmp_path / "w.safetensors", "segmenter",
                     {"architecture": UNET, "normalisation": NORM}, {"unet": net})
    with pytest.raises(checkpoints.CheckpointError, match="NaN or infinite.*diverged"):
        Segmenter.load(tmp_path / "w.safetensors")


def test_training_that_diverges_stops_and_keeps_the_last_finite_checkpoint(tiny_sims, tmp_path,
                                                                            monkeypatch):
    from napari_labourfree.jobs import run_job
    from napari_labourfree.segmenter import train
    from napari_labourfree.segmenter.model import Segmenter

    real_loss, calls = train._loss, []

    def loss_that_explodes(*args):
        calls.append(1)
        value = real_loss(*args)
        return value * float("nan") if len(calls) > 3 else value

    monkeypatch.setattr(train, "_loss", loss_that_explodes)
    config = train.segmenter_config(epochs=3, steps_per_epoch=2, crop_size=32, depth=2,
                                    base=4, batch_size=2, val_fraction=0)
    out = tmp_path / "w.safetensors"
    with pytest.raises(ValueError, match=f"diverged at step 4.*{out.name} keeps its last "
                                         "finite checkpoint"):
        run_job(train.train_segmenter(tiny_sims, out, config))
    header = checkpoints.read_header(out)
    assert header["config"]["training"]["step"] == 2
    Segmenter.load(out)  # finite, loadable


# --- the Python API ---------------------------------------------------------------------

def _read_empty_csv(tmp_path):
    from napari_labourfree.io.tables import read_csv

    (tmp_path / "e.csv").write_text("")
    return read_csv(tmp_path / "e.csv")


def _tiled_4d(tmp_path):
    from napari_labourfree.jobs import run_job
    from napari_labourfree.tiling import tiled_apply

    return run_job(tiled_apply(lambda b: b, np.zeros((1, 2, 32, 32), np.float32), tile=16,
                               overlap=4))


def _grain_table_0x0(tmp_path):
    from napari_labourfree.analysis.statistics import grain_table

    return grain_table(np.zeros((0, 0), int))


def _to_unit_missing_key(tmp_path):
    from napari_labourfree.normalise import to_unit

    return to_unit(np.zeros((16, 16)), {"method": "percentile", "low": 1})


def _pixel_size_true(tmp_path):
    from napari_labourfree.units import PixelSize

    return PixelSize(True)


def _evaluate_nan_prediction(tmp_path):
    from napari_labourfree.analysis.metrics import evaluate_pair

    truth = np.zeros((32, 32), bool)
    truth[16] = True
    return evaluate_pair(np.full((32, 32), np.nan), truth)


def _simulate_unknown(tmp_path):
    import napari_labourfree as lf

    return lf.simulate(grain=3)


def _colour_cmyk(tmp_path):
    from napari_labourfree.training_data import channels_for

    return channels_for([np.zeros((8, 8))], "cmyk")


def _segmenter_two_channels(tmp_path):
    from napari_labourfree.segmenter.train import segmenter_config

    return segmenter_config(channels=2)


def _rgba_array_to_colour_model(tmp_path):
    from napari_labourfree.normalise import check_image

    return check_image(np.zeros((16, 16, 4), np.uint8), "layer 'tint'", colour=True)


def _foreign_colour_weights(tmp_path):
    from napari_labourfree.segmenter.unet import build_unet

    return build_unet({"name": "unet", "depth": 2, "base": 4, "channels": 4})


LIBRARY = [
    (_read_empty_csv, ValueError, "is empty"),
    (_colour_cmyk, ValueError, "colour must be one of auto, rgb, grey, not 'cmyk'"),
    (_segmenter_two_channels, ValueError, "channels must be 1 .grey. or 3 .RGB., not 2"),
    (_rgba_array_to_colour_model, ValueError, "layer 'tint' is RGBA; drop the alpha"),
    (_foreign_colour_weights, Exception, "takes 1 .grey. or 3 .RGB. channels, not 4"),
    (_tiled_4d, ValueError, "must be .H, W. or channel-first"),
    (_grain_table_0x0, ValueError, "must not be empty"),
    (_to_unit_missing_key, ValueError, "'high' must be a number"),
    (_pixel_size_true, ValueError, "pixel size must be a positive number"),
    (_evaluate_nan_prediction, ValueError, "NaN"),
    (_simulate_unknown, TypeError, "unknown simulation parameter"),
]


@pytest.mark.parametrize("call, error, message", LIBRARY, ids=[c[0].__name__[1:] for c in LIBRARY])
def test_library_errors_name_the_argument(call, error, message, tmp_path):
    with pytest.raises(error, match=message):
        call(tmp_path)


def test_fine_tuning_needs_the_starting_weights_architecture(tiny_sims, tmp_path):
    from napari_labourfree.segmenter.default import default_weights
    from napari_labourfree.segmenter.train import segmenter_config, train_segmenter

    config = segmenter_config(depth=2, base=4, crop_size=32)
    with pytest.raises(ValueError, match="default_segmenter.safetensors has the architecture"):
        train_segmenter(tiny_sims, tmp_path / "w.safetensors", config, init=default_weights())
    assert not (tmp_path / "w.safetensors").exists()
