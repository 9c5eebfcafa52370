"""`labourfree grains`: grain tables and summaries from masks and label images."""

import json

import numpy as np
import pytest
import tifffile
from conftest import SHARED_DATA, needs_shared_data, square_grid

from napari_labourfree.cli import main
from napari_labourfree.io.tables import read_csv


def write_imagej(path, data, um_per_px):
    tifffile.imwrite(path, data, imagej=True, resolution=(1 / um_per_px, 1 / um_per_px),
                     metadata={"unit": "micron"})


def test_mask_with_imagej_scale_to_csv_and_summary(tmp_path, grid_mask, capsys):
    write_imagej(tmp_path / "grid.tif", grid_mask, 0.5)
    assert main(["grains", str(tmp_path / "grid.tif"), "--out", str(tmp_path / "out")]) == 0
    table = read_csv(tmp_path / "out" / "grid_grains.csv")
    assert len(table["label"]) == 24
    assert set(table["area_px"]) == {361}
    assert table["area_um2"] == pytest.approx(table["area_px"] * 0.25)
    assert table["touches_border"].dtype == bool
    summary = json.loads((tmp_path / "out" / "grid_grains_summary.json").read_text())
    assert summary["pixel_size"] == {"value": 0.5, "unit": "um", "source": "ImageJ"}
    assert summary["input_kind"] == "mask"
    assert summary["summary"]["grains"] == 24 - 9
    assert summary["summary"]["astm_g_planimetric"] is not None
    assert "napari-labourfree" in summary["software"]
    assert "grid.tif" in capsys.readouterr().out


def test_labels_with_user_pixel_size_into_a_named_csv(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "labels.tif", square_grid(60, 10, 0).astype(np.uint16))
    out = tmp_path / "t.csv"
    assert main(["grains", str(tmp_path / "labels.tif"), "--out", str(out),
                 "--pixel-size", "20", "--unit", "nm", "--include-border"]) == 0
    table = read_csv(out)
    assert len(table["label"]) == 36 and set(table["area_nm2"]) == {100 * 400}
    summary = json.loads((tmp_path / "t_summary.json").read_text())
    assert summary["input_kind"] == "labels" and summary["summary"]["grains"] == 36


def test_user_pixel_size_wins_over_the_file_and_says_so(tmp_path, grid_mask, capsys):
    write_imagej(tmp_path / "grid.tif", grid_mask, 0.5)
    assert main(["grains", str(tmp_path / "grid.tif"), "--out", str(tmp_path / "o"),
                 "--pixel-size", "2"]) == 0
    assert "not the file's 0.5 um/px (ImageJ)" in capsys.readouterr().err
    assert "area_um2" in read_csv(tmp_path / "o" / "grid_grains.csv")


def test_existing_outputs_are_not_overwritten(tmp_path, grid_mask, capsys):
    tifffile.imwrite(tmp_path / "grid.tif", grid_mask)
    args = ["grains", str(tmp_path / "grid.tif"), "--out", str(tmp_path / "o")]
    assert main(args) == 0
    before = (tmp_path / "o" / "grid_grains.csv").read_text()
    assert main(args + ["--min-area", "1000"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (tmp_path / "o" / "grid_grains.csv").read_text() == before
    assert main(args + ["--min-area", "1000", "--overwrite"]) == 0
    assert (tmp_path / "o" / "grid_grains.csv").read_text() != before


@pytest.mark.parametrize("extra, words", [
    (["TWO", "--out", "x.csv"], "one CSV file but 2 inputs"),
    (["--out", "o", "--pixel-size", "-1"], "positive"),
    (["--out", "o", "--unit", "parsec", "--pixel-size", "1"], "unknown length unit"),
])
def test_bad_arguments_give_one_clear_line(tmp_path, grid_mask, capsys, extra, words):
    tifffile.imwrite(tmp_path / "grid.tif", grid_mask)
    extra = [str(tmp_path / "grid.tif") if e == "TWO" else
             str(tmp_path / e) if e in ("x.csv", "o") else e for e in extra]
    assert main(["grains", str(tmp_path / "grid.tif"), *extra]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_missing_and_stacked_inputs(tmp_path, capsys):
    assert main(["grains", str(tmp_path / "nope.tif"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file" in capsys.readouterr().err
    tifffile.imwrite(tmp_path / "s.tif", np.zeros((3, 20, 20), np.uint8),
                     photometric="minisblack")
    # a bad file in a batch is named, the others are measured, the exit status is 1
    tifffile.imwrite(tmp_path / "ok.tif", np.pad(np.ones((18, 18), np.uint8), 1))
    assert main(["grains", str(tmp_path / "s.tif"), str(tmp_path / "ok.tif"),
                 "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "s.tif: a stack of 3 frames" in err and "1 of 2 input(s) failed" in err
    assert (tmp_path / "o" / "ok_grains.csv").is_file()
    assert not (tmp_path / "o" / "s_grains.csv").exists()


@needs_shared_data("nist-steel", "steel_optical_boundaries.tif")
def test_nist_steel_grain_size_number(tmp_path):
    """The hand-traced NIST steel boundaries give ASTM G ~ 10 both ways."""
    truth = SHARED_DATA / "nist-steel" / "steel_optical_boundaries.tif"
    assert main(["grains", str(truth), "--pixel-size", "0.2252", "--out",
                 str(tmp_path / "o")]) == 0
    s = json.loads((tmp_path / "o" / "steel_optical_boundaries_grains_summary.json")
                   .read_text())["summary"]
    assert 9.5 < s["astm_g_planimetric"] < 10.5
    assert abs(s["astm_g_planimetric"] - s["astm_g_intercept"]) < 0.3


def test_series_gives_mean_size_per_frame_with_simulation_steps(tmp_path, capsys):
    frames = np.stack([square_grid(60, c, 0) for c in (5, 10, 20)]).astype(np.uint16)
    tifffile.imwrite(tmp_path / "growth.tif", frames, metadata={"axes": "TYX",
                                                                "steps": [0, 50, 100]})
    args = ["grains", str(tmp_path / "growth.tif"), "--out", str(tmp_path / "o"),
            "--include-border"]
    assert main(args) == 1  # the file is named and skipped
    assert "use --series" in capsys.readouterr().err
    assert main(args + ["--series"]) == 0
    table = read_csv(tmp_path / "o" / "growth_growth.csv")
    assert table["step"].tolist() == [0, 50, 100]
    assert table["grains"].tolist() == [144, 36, 9]
    assert table["mean_area_px"].tolist() == [25, 100, 400]
