"""`labourfree evaluate`: pairing by name, the table, and the JSON."""

import json

import numpy as np
import tifffile
from conftest import SHARED_DATA, needs_shared_data

from napari_labourfree.cli import main


def cross(n=50, at=25):
    m = np.zeros((n, n), np.uint8)
    m[at, :] = 255
    m[:, at] = 255
    return m


def test_pairs_by_name_and_writes_the_json_keys(tmp_path, capsys):
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir()
    truth.mkdir()
    tifffile.imwrite(truth / "a.tif", cross())
    tifffile.imwrite(truth / "b.tif", cross())
    tifffile.imwrite(truth / "lonely.tif", cross())
    tifffile.imwrite(pred / "a_boundaries.tif", cross())
    tifffile.imwrite(pred / "b_boundaries.tif", np.roll(cross(), 1, (0, 1)))
    out = tmp_path / "r.json"
    assert main(["evaluate", "--pred", str(pred), "--truth", str(truth), "--json", str(out)]) == 0
    captured = capsys.readouterr()
    assert "lonely" in captured.err and "mean" in captured.out
    result = json.loads(out.read_text())
    assert set(result["per_image"]) == {"a", "b"}
    for key in ("iou", "boundary_f1", "ari", "ap", "count_error"):
        assert key in result["mean"] and key in result["per_image"]["a"]
    assert result["per_image"]["a"]["boundary_f1"] == 1.0
    assert result["per_image"]["b"]["boundary_f1"] == 1.0  # 1 px off, tolerance 2
    assert result["per_image"]["b"]["iou"] < 1.0
    assert main(["evaluate", "--pred", str(pred), "--truth", str(truth), "--json",
                 str(out)]) == 2  # no silent overwrite


def test_labels_beside_boundaries_are_used_as_instances(tmp_path):
    pred, truth = tmp_path / "pred", tmp_path / "truth"
    pred.mkdir()
    truth.mkdir()
    tifffile.imwrite(truth / "x.tif", cross())
    tifffile.imwrite(pred / "x_boundaries.tif", cross())
    merged = np.ones((50, 50), np.uint16)  # a label image saying it is all one grain
    merged[0, 0] = 2
    merged[0, 1] = 3
    tifffile.imwrite(pred / "x_labels.tif", merged)
    out = tmp_path / "r.json"
    assert main(["evaluate", "--pred", str(pred), "--truth", str(truth), "--json", str(out)]) == 0
    image = json.loads(out.read_text())["per_image"]["x"]
    assert image["boundary_f1"] == 1.0 and image["grains_pred"] == 3 and image["ap"] < 0.5


def test_nothing_to_pair_is_an_error(tmp_path, capsys):
    (tmp_path / "p").mkdir()
    (tmp_path / "t").mkdir()
    tifffile.imwrite(tmp_path / "p" / "a.tif", cross())
    tifffile.imwrite(tmp_path / "t" / "b.tif", cross())
    assert main(["evaluate", "--pred", str(tmp_path / "p"), "--truth", str(tmp_path / "t")]) == 2
    assert "no prediction matches" in capsys.readouterr().err


def test_size_mismatch_names_the_image(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "p.tif", cross(50))
    (tmp_path / "t").mkdir()
    tifffile.imwrite(tmp_path / "t" / "p.tif", cross(40, 20))
    assert main(["evaluate", "--pred", str(tmp_path / "p.tif"), "--truth",
                 str(tmp_path / "t")]) == 2
    assert "p: prediction and truth differ in size" in capsys.readouterr().err


@needs_shared_data("tbm-optical", "masks")
def test_tbm_masks_against_themselves(tmp_path):
    masks = sorted((SHARED_DATA / "tbm-optical" / "masks").glob("*.png"))[:3]
    out = tmp_path / "r.json"
    assert main(["evaluate", "--pred", *map(str, masks), "--truth", *map(str, masks),
                 "--json", str(out)]) == 0
    mean = json.loads(out.read_text())["mean"]
    assert mean["boundary_f1"] == 1.0 and mean["ap"] == 1.0 and mean["grains_true"] > 10
