"""`labourfree simulate` and the data-set job behind it."""

import json

import numpy as np
import pytest
import tifffile

from napari_labourfree.cli import main
from napari_labourfree.jobs import run_job
from napari_labourfree.phasefield.dataset import simulate_dataset
from napari_labourfree.phasefield.params import GrowthParams

TINY = ["--size", "48x64", "--grains", "10", "--steps", "30", "--no-compile", "--quiet"]


def test_simulate_writes_images_masks_labels_and_meta(tmp_path):
    out = tmp_path / "sim"
    assert main(["simulate", "--count", "3", "--seed", "4", "--out", str(out), *TINY]) == 0
    for sub, dtype in (("images", np.float32), ("masks", np.uint8), ("labels", np.uint16)):
        files = sorted((out / sub).glob("*.tif"))
        assert [f.name for f in files] == [f"structure_{i:04d}.tif" for i in range(3)]
        arr = tifffile.imread(files[0])
        assert arr.shape == (48, 64) and arr.dtype == dtype
    meta = json.loads((out / "meta.json").read_text())
    assert meta["complete"] and meta["completed"] == 3
    assert meta["parameters"]["grains"] == 10 and meta["seed"] == 4
    assert "torch" in meta["versions"]
    assert [s["grains_final"] for s in meta["structures"]] == [
        len(np.unique(tifffile.imread(out / "labels" / f"structure_{i:04d}.tif"))) for i in range(3)
    ]
    mask = tifffile.imread(out / "masks" / "structure_0000.tif")
    phi = tifffile.imread(out / "images" / "structure_0000.tif")
    np.testing.assert_array_equal(mask == 255, phi < meta["parameters"]["mask_threshold"])


def test_same_seed_same_data_whatever_the_batch(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    main(["simulate", "--count", "2", "--out", str(a), "--batch-size", "2", *TINY])
    main(["simulate", "--count", "2", "--out", str(b), "--batch-size", "1", *TINY])
    for name in ("labels/structure_0001.tif", "masks/structure_0001.tif"):
        np.testing.assert_array_equal(tifffile.imread(a / name), tifffile.imread(b / name))


def test_snapshots_make_a_growth_sequence(tmp_path):
    out = tmp_path / "sim"
    main(["simulate", "--count", "1", "--out", str(out), "--snapshot-every", "10", *TINY])
    with tifffile.TiffFile(out / "snapshots" / "structure_0000_labels.tif") as tif:
        stack = tif.asarray()
    assert stack.shape == (4, 48, 64)  # steps 0, 10, 20, 30


def test_refuses_a_non_empty_folder_unless_told(tmp_path, capsys):
    out = tmp_path / "sim"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["simulate", "--count", "1", "--out", str(out), *TINY]) == 2
    err = capsys.readouterr().err
    assert "not empty" in err and "allow overwriting to replace an earlier run there " \
        "(--overwrite)" in err
    assert main(["simulate", "--count", "1", "--out", str(out), "--overwrite", *TINY]) == 0
    assert (out / "notes.txt").read_text() == "mine"  # the user's file survives


@pytest.mark.parametrize(
    "args, words",
    [
        (["--grains", "1"], "grains must be at least 2"),
        (["--size", "32", "--grains", "100"], "do not fit"),
        (["--steps", "-1"], "must not be negative"),
        (["--dt", "1.0"], "stability limit"),
        (["--count", "0"], "count must be at least 1"),
        (["--device", "tpu"], "device"),
        (["--spread", "-1"], "spread must lie between 0 and 3"),
        (["--spread", "nan"], "spread must lie between 0 and 3"),
        (["--spread", "4"], "spread must lie between 0 and 3"),
    ],
)
def test_bad_parameters_give_a_clear_error(tmp_path, capsys, args, words):
    code = main(["simulate", "--out", str(tmp_path / "x"), "--quiet", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert words in err and "Traceback" not in err


def test_interrupted_run_leaves_only_complete_structures(tmp_path):
    params = GrowthParams(height=48, width=48, grains=8, steps=20)
    out = tmp_path / "sim"
    job = simulate_dataset(params, 5, out, compile=False)
    for event in job:
        if event.message.startswith("wrote 2/"):
            job.close()  # what Ctrl-C or a GUI cancel does between yields
            break
    meta = json.loads((out / "meta.json").read_text())
    assert meta["completed"] == 2 and not meta["complete"]
    for sub in ("images", "masks", "labels"):
        assert sorted(p.name for p in (out / sub).iterdir()) == [
            "structure_0000.tif", "structure_0001.tif"]


def test_job_progress_reaches_total(tmp_path):
    params = GrowthParams(height=48, width=48, grains=8, steps=20)
    events = []
    run_job(simulate_dataset(params, 2, tmp_path / "s", compile=False), events.append)
    assert events[-1].step == events[-1].total == 40
    assert all(a.step <= b.step for a, b in zip(events, events[1:]))


def test_the_console_command_passes_exit_codes_through_and_leaves_complete_files(tmp_path):
    """`labourfree` runs ``console``, which skips the collector's walk at exit."""
    import subprocess
    import sys

    def command(*args):
        code = "import sys; from napari_labourfree.cli import console; sys.exit(console())"
        return subprocess.run([sys.executable, "-c", code, *args], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300, check=False)

    done = command("simulate", "--count", "2", "--out", "sim", *TINY)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads((tmp_path / "sim" / "meta.json").read_text())["complete"]
    assert tifffile.imread(tmp_path / "sim" / "labels" / "structure_0001.tif").shape == (48, 64)
    assert command("simulate", "--count", "0", "--out", "bad", *TINY).returncode == 2
