"""Past one process: batches on a dask.distributed cluster, and images read and written
window by window (zarr). Each cluster here is a real LocalCluster of worker processes."""

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile

from napari_labourfree.cli import main
from napari_labourfree.jobs import run_job


def voronoi_micrograph(size, grains: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A micrograph-like uint8 image (dark lines between shaded grains) and its labels."""
    from scipy.spatial import cKDTree
    from skimage.segmentation import find_boundaries

    h, w = (size, size) if np.isscalar(size) else size
    rng = np.random.default_rng(seed)
    points = rng.uniform(0, 1, (grains, 2)) * (h, w)
    yy, xx = np.mgrid[:h, :w]
    _, nearest = cKDTree(points).query(np.c_[yy.ravel(), xx.ravel()])
    labels = nearest.reshape(h, w) + 1
    lines = find_boundaries(labels, mode="thick")
    image = 150 + rng.uniform(-25, 25, grains + 1)[labels] + rng.normal(0, 6, (h, w))
    image[lines] = 60
    return image.clip(0, 255).astype(np.uint8), labels


@pytest.fixture(scope="module")
def micrographs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("micrographs")
    for k in range(4):
        tifffile.imwrite(folder / f"m{k}.tif", voronoi_micrograph(320, 40, k)[0])
    return folder


@pytest.fixture(scope="module")
def client():
    from napari_labourfree.scaleout.cluster import open_client

    with open_client(workers=2) as client:
        yield client


def _files(folder: Path) -> dict[str, bytes]:
    """Every output by name, with the JSON's software versions left out (the same
    packages, but a worker's summary names the worker's Python)."""
    import json

    found = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.is_dir():
            continue
        data = path.read_bytes()
        if path.suffix == ".json":
            loaded = json.loads(data)
            loaded.pop("software", None)
            data = json.dumps(loaded, sort_keys=True).encode()
        found[path.name] = data
    return found


def test_segment_on_two_workers_writes_what_the_serial_run_writes(micrographs, tmp_path,
                                                                  client):
    from napari_labourfree.scaleout.segment import segment_files_on, worker_segmenter
    from napari_labourfree.segmenter.batch import segment_files
    from napari_labourfree.segmenter.default import resolve_weights
    from napari_labourfree.segmenter.model import Segmenter

    weights = resolve_weights("default")
    paths = sorted(micrographs.glob("*.tif"))
    serial_rows, _ = run_job(segment_files(Segmenter.load(weights), paths, tmp_path / "serial",
                                           weights_name=str(weights)))
    events = []
    rows, failures, retried = run_job(segment_files_on(
        client, weights, "cpu", paths, tmp_path / "dask", weights_name=str(weights)),
        events.append)
    assert failures == [] and retried == []
    assert [r[0] for r in rows] == [r[0] for r in serial_rows] == [p.name for p in paths]
    assert [r[1] for r in rows] == [r[1] for r in serial_rows]
    assert _files(tmp_path / "dask") == _files(tmp_path / "serial")
    assert len(_files(tmp_path / "dask")) == 5 * len(paths)
    # progress follows finished images
    assert [(e.step, e.total) for e in events] == [(k, 4) for k in range(1, 5)]
    # each worker loaded the model once, however many images it did
    loads = client.run(lambda: worker_segmenter.cache_info().misses)
    assert sorted(loads.values()) in ([1, 1], [0, 1])


def test_a_killed_worker_costs_only_a_retry(micrographs, tmp_path):
    """Kill the worker process in the middle of an image: the image is done again on the
    other worker, every output is as in the serial run, no partial file is left."""
    from napari_labourfree.scaleout.cluster import open_client
    from napari_labourfree.scaleout.segment import segment_files_on
    from napari_labourfree.segmenter.batch import segment_files
    from napari_labourfree.segmenter.default import resolve_weights
    from napari_labourfree.segmenter.model import Segmenter

    weights = resolve_weights("default")
    paths = sorted(micrographs.glob("*.tif"))
    run_job(segment_files(Segmenter.load(weights), paths, tmp_path / "serial",
                          weights_name=str(weights)))
    killed = []
    with open_client(workers=2) as client:
        pids = client.run(os.getpid)

        def kill_a_busy_worker():
            end = time.monotonic() + 120
            while time.monotonic() < end:
                busy = [a for a, keys in client.processing().items() if keys]
                executing = client.run(lambda dask_worker: len(dask_worker.state.executing))
                busy = [a for a in busy if executing.get(a)]
                if busy:
                    time.sleep(0.3)  # well inside the image
                    os.kill(pids[busy[0]], 9)
                    killed.append(busy[0])
                    return
                time.sleep(0.05)

        killer = threading.Thread(target=kill_a_busy_worker)
        killer.start()
        rows, failures, retried = run_job(segment_files_on(
            client, weights, "cpu", paths, tmp_path / "dask", weights_name=str(weights)))
        killer.join()
    assert killed, "no worker was ever seen busy"
    assert failures == []
    # the image it was doing, not the ones it had been given and had not started
    assert len(retried) == 1 and retried[0] in [p.name for p in paths]
    assert [r[0] for r in rows] == [p.name for p in paths]
    assert _files(tmp_path / "dask") == _files(tmp_path / "serial")
    assert not [p for p in (tmp_path / "dask").iterdir() if p.name.startswith(".")]


def test_a_corrupt_image_is_reported_and_the_rest_finish(micrographs, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    for path in sorted(micrographs.glob("*.tif"))[:2]:
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "broken.tif").write_bytes(b"II*\x00 this is not a TIFF")
    code = main(["segment", str(folder), "--out", str(tmp_path / "out"), "--workers", "2",
                 "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert "broken.tif" in err and "1 of 3 image(s) failed" in err
    assert "2 dask worker(s)" in err
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert not [n for n in names if n.startswith("broken")]
    assert len(names) == 10


def test_simulate_on_workers_grows_the_serial_data_set(tmp_path, capsys):
    import json

    common = ["--count", "3", "--size", "48", "--grains", "8", "--steps", "40", "--seed", "5",
              "--no-compile", "--quiet"]
    assert main(["simulate", *common, "--out", str(tmp_path / "serial")]) == 0
    assert main(["simulate", *common, "--out", str(tmp_path / "dask"), "--workers", "2"]) == 0
    assert "dask worker(s)" in capsys.readouterr().err
    for sub in ("images", "masks", "labels"):
        serial = sorted((tmp_path / "serial" / sub).iterdir())
        assert [p.name for p in serial] == [f"structure_{i:04d}.tif" for i in range(3)]
        for path in serial:
            assert path.read_bytes() == (tmp_path / "dask" / sub / path.name).read_bytes()
    metas = [json.loads((tmp_path / run / "meta.json").read_text()) for run in ("serial", "dask")]
    assert metas[0]["structures"] == metas[1]["structures"]
    assert metas[1]["complete"] and "retried" not in metas[1]


@pytest.mark.parametrize("args, message", [
    (["--workers", "0"], "--workers must be a whole number of at least 1"),
    (["--workers", "nan"], "--workers must be a whole number"),
    (["--workers", "1.5"], "--workers must be a whole number"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:9"], "not allowed with"),
    (["--chunk", "100"], "--chunk must be"),
    (["--chunk", "300"], "a multiple of 16"),
])
def test_bad_cluster_and_window_options(micrographs, tmp_path, capsys, args, message):
    with pytest.raises(SystemExit):
        main(["segment", str(micrographs / "m0.tif"), "--out", str(tmp_path), *args])
    assert message in capsys.readouterr().err


def test_an_unreachable_scheduler_is_named(micrographs, tmp_path, capsys, monkeypatch):
    from napari_labourfree.scaleout import cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", "1s")
    code = main(["segment", str(micrographs / "m0.tif"), "--out", str(tmp_path / "o"),
                 "--scheduler", "tcp://127.0.0.1:9"])
    assert code == 2
    assert "could not reach the dask scheduler at tcp://127.0.0.1:9" in capsys.readouterr().err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


# ---------------------------------------------------------------------------------------
# Window by window (zarr)


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A 700x900 micrograph as a zarr array (chunks 256), with its pixel size."""
    import zarr

    folder = tmp_path_factory.mktemp("zarr")
    image, _ = voronoi_micrograph((700, 900), 260, 11)
    store = zarr.create_array(str(folder / "big.zarr"), shape=image.shape, chunks=(256, 256),
                              dtype="uint8")
    store[:] = image
    store.attrs["pixel_size"] = {"value": 0.05, "unit": "um"}
    return folder / "big.zarr", image


def test_a_zarr_image_is_segmented_window_by_window(big, tmp_path):
    """Labels stay one grain across window edges, the merged grain table is the table of
    the whole label image, and the result agrees with the in-memory segmentation."""
    import csv

    import zarr
    from skimage.measure import label as connected
    from sklearn.metrics import adjusted_rand_score

    from napari_labourfree.analysis.statistics import grain_table
    from napari_labourfree.segmenter.default import resolve_weights
    from napari_labourfree.segmenter.model import Segmenter

    path, image = big
    truth = voronoi_micrograph((700, 900), 260, 11)[1]
    out = tmp_path / "out"
    assert main(["segment", str(path), "--out", str(out), "--chunk", "256", "--quiet"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["big_boundaries.zarr", "big_grains.csv", "big_grains_summary.json",
                     "big_labels.zarr", "big_overlay.png"]
    labels = zarr.open_array(str(out / "big_labels.zarr"), mode="r")
    assert labels.shape == image.shape and labels.chunks == (256, 256)
    assert labels.attrs["pixel_size"]["value"] == 0.05
    labels = np.asarray(labels[:])
    assert (labels > 0).all()
    # one id is one connected grain: no grain is cut in two by a window edge
    ids = np.unique(labels)
    pieces = connected(labels, connectivity=1, background=-1)
    assert len(np.unique(pieces)) == len(ids)
    # grains crossing the window edges at 256 and 512 px exist and kept one id
    crossing = set(labels[:, 255]) & set(labels[:, 256])
    assert len(crossing) > 5

    with open(out / "big_grains.csv") as f:
        rows = list(csv.DictReader(f))
    whole = grain_table(labels)
    assert [int(r["label"]) for r in rows] == whole["label"].tolist()
    for name in ("area_px", "perimeter_px", "centroid_x_px", "touches_border"):
        written = np.array([r[name] for r in rows])
        if name == "touches_border":
            assert (written == np.where(whole[name], "true", "false")).all()
        else:
            np.testing.assert_allclose(written.astype(float), whole[name], rtol=1e-6)
    assert "area_um2" in rows[0]

    # Against the in-memory run: windows of 256 px change the grains about as much as
    # 384 px tiles instead of 512 do in memory (ARI 0.96-0.97), and they are about as
    # right: with the third default, ARI to the truth 0.901 in 256 px windows against
    # 0.918 / 0.909 / 0.925 in memory with 512 / 384 / 256 px tiles.
    model = Segmenter.load(resolve_weights("default"))
    memory = run_job(model.segment(image))
    assert adjusted_rand_score(memory.labels.ravel(), labels.ravel()) > 0.95
    assert abs(len(ids) - int(memory.labels.max())) <= 0.05 * int(memory.labels.max())
    right = [adjusted_rand_score(truth.ravel(), found.ravel()) for found in (memory.labels,
                                                                             labels)]
    assert right[1] > right[0] - 0.03, right
    # one window holding the whole image: the in-memory grains exactly (ids aside)
    one = tmp_path / "one"
    assert main(["segment", str(path), "--out", str(one), "--chunk", "1024", "--quiet"]) == 0
    whole_window = np.asarray(zarr.open_array(str(one / "big_labels.zarr"), mode="r")[:])
    assert adjusted_rand_score(memory.labels.ravel(), whole_window.ravel()) == 1.0
    lines = np.asarray(zarr.open_array(str(one / "big_boundaries.zarr"), mode="r")[:])
    np.testing.assert_array_equal(lines > 0, memory.boundaries)
    # with windows, the lines come from the joined labels: they run along window edges
    lines = np.asarray(zarr.open_array(str(out / "big_boundaries.zarr"), mode="r")[:]) > 0
    from napari_labourfree.analysis.instances import boundaries_from_labels

    np.testing.assert_array_equal(lines, boundaries_from_labels(labels))


def test_one_window_equals_the_in_memory_grains_at_a_reduced_scale(big, tmp_path):
    """At a reduced scale the merge reads a third map (``maps_at``); windows carry it too."""
    import zarr
    from sklearn.metrics import adjusted_rand_score

    from napari_labourfree.segmenter.default import resolve_weights
    from napari_labourfree.segmenter.model import Segmenter

    path, image = big
    model = Segmenter.load(resolve_weights("default"))
    memory = run_job(model.segment(image, grain_size=120))
    assert memory.quality["scale"] < 1
    one = tmp_path / "one"
    assert main(["segment", str(path), "--out", str(one), "--chunk", "1024",
                 "--grain-size", "120", "--quiet"]) == 0
    window = np.asarray(zarr.open_array(str(one / "big_labels.zarr"), mode="r")[:])
    assert adjusted_rand_score(memory.labels.ravel(), window.ravel()) == 1.0


def test_chunk_works_on_any_image_file(big, tmp_path):
    import imageio.v3 as iio
    import zarr

    _, image = big
    iio.imwrite(tmp_path / "small.png", image[:300, :300])
    out = tmp_path / "out"
    assert main(["segment", str(tmp_path / "small.png"), "--out", str(out), "--chunk", "256",
                 "--quiet"]) == 0
    labels = zarr.open_array(str(out / "small_labels.zarr"), mode="r")
    assert labels.shape == (300, 300) and int(np.asarray(labels[:]).max()) > 10


def test_ome_zarr_and_tiled_tiff_open_lazily(big, tmp_path):
    import zarr

    from napari_labourfree.io.lazy import open_lazy

    _, image = big
    group = zarr.open_group(str(tmp_path / "ome.zarr"), mode="w")
    group.attrs["multiscales"] = [{
        "version": "0.4",
        "axes": [{"name": "c", "type": "channel"},
                 {"name": "y", "type": "space", "unit": "micrometer"},
                 {"name": "x", "type": "space", "unit": "micrometer"}],
        "datasets": [{"path": "0", "coordinateTransformations": [
            {"type": "scale", "scale": [1, 0.2, 0.2]}]},
                     {"path": "1", "coordinateTransformations": [
            {"type": "scale", "scale": [1, 0.4, 0.4]}]}]}]
    group.create_array("0", data=image[None], chunks=(1, 256, 256))
    group.create_array("1", data=image[None, ::2, ::2], chunks=(1, 256, 256))
    lazy = open_lazy(tmp_path / "ome.zarr")
    assert lazy.shape == image.shape and not lazy.colour and len(lazy.levels) == 2
    assert lazy.pixel_size.value == 0.2 and lazy.pixel_size.unit == "um"
    np.testing.assert_array_equal(lazy.read(10, 50, 300, 420), image[10:50, 300:420])

    tifffile.imwrite(tmp_path / "tiled.tif", np.dstack([image] * 3), tile=(256, 256),
                     photometric="rgb")
    lazy = open_lazy(tmp_path / "tiled.tif")
    assert lazy.colour and lazy.shape == image.shape
    np.testing.assert_array_equal(lazy.read(600, 700, 0, 40)[..., 1], image[600:700, :40])


@pytest.mark.parametrize("make, message", [
    (lambda z, p: z.create_array(str(p), shape=(4, 64, 64), dtype="uint8"), "not a 2-D"),
    (lambda z, p: z.open_group(str(p), mode="w"), "without OME-Zarr 'multiscales'"),
    (lambda z, p: z.create_array(str(p), shape=(8, 64), dtype="uint8"), "too small"),
    (lambda z, p: z.create_array(str(p), shape=(64, 64), dtype="complex64"), "not supported"),
])
def test_bad_zarr_inputs_are_named(tmp_path, make, message):
    import zarr

    from napari_labourfree.io.lazy import open_lazy

    make(zarr, tmp_path / "bad.zarr")
    with pytest.raises(ValueError, match=message):
        open_lazy(tmp_path / "bad.zarr")


def test_napari_opens_ome_zarr_lazily_and_segments_it(make_napari_viewer, qtbot, big,
                                                      tmp_path, errors):
    import dask.array as da
    import zarr

    from napari_labourfree._widgets.segment import SegmentWidget

    _, image = big
    crop = image[:320, :384]
    group = zarr.open_group(str(tmp_path / "m.ome.zarr"), mode="w")
    group.attrs["multiscales"] = [{"version": "0.4", "axes": [
        {"name": "y", "type": "space", "unit": "micrometer"},
        {"name": "x", "type": "space", "unit": "micrometer"}],
        "datasets": [{"path": str(k), "coordinateTransformations": [
            {"type": "scale", "scale": [0.1 * 2**k, 0.1 * 2**k]}]} for k in range(2)]}]
    group.create_array("0", data=crop, chunks=(128, 128))
    group.create_array("1", data=crop[::2, ::2], chunks=(128, 128))
    viewer = make_napari_viewer()
    [layer] = viewer.open(str(tmp_path / "m.ome.zarr"), plugin="napari-labourfree")
    assert layer.multiscale and isinstance(layer.data[0], da.Array)
    assert layer.data[0].shape == crop.shape and tuple(layer.scale) == (0.1, 0.1)
    w = SegmentWidget(viewer)
    w.device.value = "cpu"
    w.run.clicked.emit()
    qtbot.waitUntil(lambda: not w.busy, timeout=120_000)
    grains = viewer.layers[f"grains [{layer.name}]"]
    assert grains.data.shape == crop.shape and grains.data.max() > 10
    assert grains.metadata["pixel_size"]["unit"] == "um"
    assert not errors


def test_closing_a_cluster_run_keeps_only_complete_outputs(micrographs, tmp_path, client):
    """Ctrl-C / Cancel after the first image: what had not started is cancelled, what was
    running finishes whole, and no partial set or temporary file is left."""
    from napari_labourfree.scaleout.segment import segment_files_on
    from napari_labourfree.segmenter.batch import output_names
    from napari_labourfree.segmenter.default import resolve_weights

    paths = sorted(micrographs.glob("*.tif"))
    copies = tmp_path / "in"
    copies.mkdir()
    for k in range(8):  # more images than workers, so some are still waiting
        (copies / f"c{k}.tif").write_bytes(paths[k % len(paths)].read_bytes())
    out = tmp_path / "out"
    job = segment_files_on(client, resolve_weights("default"), "cpu",
                           sorted(copies.iterdir()), out)
    first = next(job)
    assert first.step == 1
    job.close()
    assert not client.processing() or not any(client.processing().values())
    done = 0
    for k in range(8):
        present = [(out / n).exists() for n in output_names(f"c{k}")]
        assert all(present) or not any(present), f"c{k}: a partial set"
        done += all(present)
    assert 1 <= done < 8
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    assert not (out / ".labourfree.lock").exists()


def test_temporary_files_of_a_dead_worker_are_swept_and_nothing_else(tmp_path):
    from napari_labourfree.scaleout.segment import remove_incomplete, remove_temporary
    from napari_labourfree.segmenter.batch import output_names

    sets = [output_names("m0"), output_names("m1")]
    (tmp_path / ".m0_labels.tif.x1y2z3.part").write_bytes(b"half")
    (tmp_path / ".m0-ab_12cd9").mkdir()  # a window-by-window work folder (mkdtemp)
    (tmp_path / ".m0-notes").mkdir()     # the user's own
    (tmp_path / "m1_labels.tif").write_bytes(b"only one of five")
    for name in output_names("m0"):
        (tmp_path / name).write_bytes(b"complete set")
    remove_incomplete(tmp_path, sets)
    remove_temporary(tmp_path, sets)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([".m0-notes", *output_names("m0")])
