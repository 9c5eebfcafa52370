"""train-style -> synthesize -> train-segmenter -> segment from the command line, tiny."""

import json
import os
import signal

import numpy as np
import pytest
import tifffile

from napari_labourfree import checkpoints
from napari_labourfree.cli import main, run_with_progress
from napari_labourfree.io.tables import read_csv
from napari_labourfree.jobs import Progress

STYLE = ["--iterations", "3", "--crop-size", "32", "--ngf", "4", "--ndf", "4",
         "--n-blocks", "1", "--quiet", "--device", "cpu"]
UNET = ["--epochs", "1", "--steps-per-epoch", "3", "--crop-size", "32", "--depth", "2",
        "--base", "4", "--quiet", "--device", "cpu"]


@pytest.fixture(scope="module")
def chain(tiny_sims, tiny_real, tmp_path_factory):
    root = tmp_path_factory.mktemp("chain")
    style, syn, unet = root / "style.safetensors", root / "syn", root / "unet.safetensors"
    assert main(["train-style", "--sim", str(tiny_sims), "--real", str(tiny_real),
                 "--out", str(style), *STYLE]) == 0
    assert main(["synthesize", "--sim", str(tiny_sims), "--style", str(style),
                 "--out", str(syn), "--quiet", "--device", "cpu"]) == 0
    assert main(["train-segmenter", "--data", str(syn), "--out", str(unet), *UNET]) == 0
    return root, style, syn, unet


def test_the_chain_writes_what_each_step_promises(chain, tiny_real, tmp_path):
    _root, style, syn, unet = chain
    assert checkpoints.read_header(style)["config"]["training"]["iteration"] == 3
    assert len(list((syn / "images").glob("*.tif"))) == 6
    assert checkpoints.read_header(unet)["kind"] == "segmenter"
    out = tmp_path / "seg"
    assert main(["segment", str(tiny_real), "--model", str(unet), "--out", str(out),
                 "--pixel-size", "0.1", "--quiet", "--device", "cpu",
                 "--save-probability"]) == 0
    stem = min(tiny_real.glob("*.tif")).stem
    boundaries = tifffile.imread(out / f"{stem}_boundaries.tif")
    assert boundaries.dtype == np.uint8 and set(np.unique(boundaries)) <= {0, 255}
    labels = tifffile.imread(out / f"{stem}_labels.tif")
    assert labels.shape == boundaries.shape and labels.min() >= 1
    table = read_csv(out / f"{stem}_grains.csv")
    assert "area_um2" in table and len(table["label"]) == labels.max()
    assert (out / f"{stem}_probability.tif").is_file()
    # the labels carry the pixel size, so `grains` finds it again
    assert main(["grains", str(out / f"{stem}_labels.tif"), "--out", str(tmp_path / "g")]) == 0
    assert "area_um2" in read_csv(tmp_path / "g" / f"{stem}_labels_grains.csv")


def test_resume_from_the_command_line(chain, tiny_sims, tiny_real):
    _, style, _, _ = chain
    args = ["train-style", "--sim", str(tiny_sims), "--real", str(tiny_real), "--out",
            str(style), *STYLE]
    assert main(args) == 2  # exists: no silent overwrite
    args[args.index("3")] = "5"
    assert main(args + ["--resume"]) == 0
    assert checkpoints.read_header(style)["config"]["training"]["iteration"] == 5


@pytest.mark.parametrize("case, words", [
    ("style-as-segmenter", "holds style (CycleGAN) weights, not segmenter"),
    ("no-default", "no built-in default segmenter"),
    ("missing-model", "no such weights file"),
    ("corrupt-model", "not a safetensors file or is damaged"),
])
def test_segment_errors(chain, tiny_real, tmp_path, capsys, case, words):
    _, style, _, _ = chain
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    model = {"style-as-segmenter": str(style), "no-default": "default",
             "missing-model": str(tmp_path / "x.safetensors"), "corrupt-model": str(bad)}[case]
    if case == "no-default":
        from napari_labourfree.segmenter import default

        try:
            default.default_weights()
            pytest.skip("this build ships default weights")
        except FileNotFoundError:
            pass
    assert main(["segment", str(tiny_real), "--model", model, "--out", str(tmp_path / "o"),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_training_errors(tiny_sims, tmp_path, capsys):
    assert main(["train-style", "--sim", str(tiny_sims), "--real", str(tmp_path / "none"),
                 "--out", str(tmp_path / "s.safetensors"), *STYLE]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["train-segmenter", "--data", str(tmp_path), "--out",
                 str(tmp_path / "u.safetensors"), *UNET]) == 2
    assert "no images" in capsys.readouterr().err
    assert main(["train-segmenter", "--data", str(tiny_sims), "--out",
                 str(tmp_path / "u.safetensors"), *UNET, "--crop-size", "30"]) == 2
    assert "multiple of 4" in capsys.readouterr().err


def test_train_style_grain_tints_follow_colour(tiny_sims, tiny_real, tiny_colour, tmp_path,
                                              capsys):
    for real, extra, tinted in ((tiny_colour, [], True), (tiny_colour, ["--grain-tint", "off"],
                                 False), (tiny_real, [], False),
                                (tiny_real, ["--grain-tint", "on"], True)):  # grey levels
        out = tmp_path / f"{real.name}{tinted}.safetensors"
        assert main(["train-style", "--sim", str(tiny_sims), "--real", str(real),
                     "--out", str(out), *STYLE, *extra]) == 0
        assert checkpoints.read_header(out)["config"]["training"]["grain_tint"] is tinted
        assert ("with grain tints" in capsys.readouterr().err) is tinted
    plain = tmp_path / "plain"
    (plain / "images").mkdir(parents=True)
    for path in sorted((tiny_sims / "images").glob("*.tif"))[:2]:
        (plain / "images" / path.name).write_bytes(path.read_bytes())
    assert main(["train-style", "--sim", str(plain), "--real", str(tiny_colour), "--out",
                 str(tmp_path / "p.safetensors"), *STYLE, "--grain-tint", "on"]) == 2
    assert "labels" in capsys.readouterr().err
    assert main(["train-style", "--sim", str(plain), "--real", str(tiny_colour), "--out",
                 str(tmp_path / "p.safetensors"), *STYLE]) == 0  # auto: no labels, no tints
    assert ("with grain tints" in capsys.readouterr().err) is False


def test_first_ctrl_c_closes_the_job_after_the_current_step():
    closed = []

    def job():
        try:
            for step in range(1, 100):
                if step == 3:
                    os.kill(os.getpid(), signal.SIGINT)
                yield Progress(step, 99)
        except GeneratorExit:
            closed.append(step)
            raise

    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when started in the background
    with pytest.raises(KeyboardInterrupt):
        run_with_progress(job(), quiet=True)
    assert closed == [3]
    assert signal.getsignal(signal.SIGINT) is before


@pytest.mark.parametrize("args, words", [
    (["--grain-size", "big"], "grain size must be 'auto', 'off' or a diameter"),
    (["--grain-size", "0"], "grain_size must be"),
    (["--threshold", "0"], "threshold must lie strictly between 0 and 1"),
    (["--threshold", "nan"], "threshold must lie strictly between 0 and 1"),
    (["--overlap", "-100"], "overlap must be"),
    (["--tile", "8"], "tile must be"),
    (["--seed-threshold", "1"], "seed_threshold"),
    (["--min-area", "-3"], "min_area"),
    (["--instances", "magic"], "invalid choice"),
])
def test_segment_options_are_checked_first(chain, tiny_real, tmp_path, capsys, args, words):
    unet = chain[3]
    out = tmp_path / "o"
    try:
        code = main(["segment", str(tiny_real), "--model", str(unet), "--out", str(out),
                     "--quiet", *args])
    except SystemExit as stop:  # argparse's own checks (types, choices) exit directly
        code = stop.code
    assert code == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())  # nothing written


def test_segment_records_options_and_quality(chain, tiny_real, tmp_path, capsys):
    unet = chain[3]
    out = tmp_path / "o"
    assert main(["segment", str(tiny_real), "--model", str(unet), "--out", str(out), "--quiet",
                 "--instances", "components", "--grain-size", "off", "--threshold", "0.4",
                 "--device", "cpu"]) == 0
    stem = min(tiny_real.glob("*.tif")).stem
    summary = json.loads((out / f"{stem}_grains_summary.json").read_text())
    assert summary["parameters"]["instances"] == "components"
    assert summary["parameters"]["threshold"] == 0.4
    assert summary["parameters"]["grain_size"] == "off"
    quality = summary["quality"]
    assert quality["instances"] == "components" and quality["scale_source"] == "off"
    assert {"closed_boundary_fraction", "uncertain_fraction", "warnings"} <= set(quality)


def test_train_segmenter_fine_tunes_the_default_on_several_folders(tiny_sims, tmp_path,
                                                                    capsys):
    from napari_labourfree import checkpoints

    out = tmp_path / "ft.safetensors"
    assert main(["train-segmenter", "--data", str(tiny_sims), str(tiny_sims), "--out",
                 str(out), "--start-from", "default", "--epochs", "1", "--steps-per-epoch",
                 "2", "--crop-size", "32", "--quiet"]) == 0
    training = checkpoints.read_header(out)["config"]["training"]
    assert training["started_from"] == "default_segmenter.safetensors"
    assert len(training["data"]) == 2
    assert main(["train-segmenter", "--data", str(tiny_sims), "--out",
                 str(tmp_path / "x.safetensors"), "--start-from", "default", "--depth",
                 "2", "--quiet"]) == 2
    assert "--depth and --base are those of the --start-from weights" in \
        capsys.readouterr().err
