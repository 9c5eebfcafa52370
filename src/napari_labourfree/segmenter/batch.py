"""Segment image files and write what `labourfree segment` promises for each of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..jobs import Job, Progress, relay

OUTPUTS = ("boundaries.tif", "labels.tif", "grains.csv", "grains_summary.json", "overlay.png")
# Images segmented window by window (zarr, huge TIFFs) get zarr stores instead of TIFFs.
LAZY_OUTPUTS = ("boundaries.zarr", "labels.zarr", "grains.csv", "grains_summary.json",
                "overlay.png")


def output_names(stem: str, probability: bool = False, lazy: bool = False) -> list[str]:
    names = LAZY_OUTPUTS if lazy else OUTPUTS
    extra = ("probability.zarr" if lazy else "probability.tif",) if probability else ()
    return [f"{stem}_{n}" for n in names + extra]


def outputs_of(path: Path, probability: bool = False, chunk: int | None = None) -> list[str]:
    """The output names for input ``path`` (zarr names when it is segmented by windows)."""
    return output_names(Path(path).stem, probability, by_windows(path, chunk))


def by_windows(path: Path, chunk: int | None = None) -> bool:
    """Whether ``path`` is segmented window by window: zarr stores and TIFFs over
    LARGE_PIXELS always, any image when a ``chunk`` size is given."""
    from ..io.lazy import LARGE_PIXELS, is_zarr

    path = Path(path)
    if chunk is not None or is_zarr(path):
        return True
    if path.suffix.lower() not in (".tif", ".tiff") or not path.is_file():
        return False
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            shape = tif.series[0].shape
    except (tifffile.TiffFileError, ValueError, IndexError, OSError):
        return False  # the in-memory reader names the problem
    big = sorted(shape, reverse=True)[:2]
    return len(big) == 2 and big[0] * big[1] > LARGE_PIXELS


def segment_files(model, paths: list[Path], out: Path, *, options=None,
                  pixel_size=None, include_border: bool = False,
                  save_probability: bool = False, skip_done: bool = False,
                  weights_name: str = "", chunk: int | None = None) -> Job[tuple[list, list]]:
    """Job: for each image, boundaries, labels (with the pixel size in ImageJ tags), grain
    CSV + summary JSON and an overlay PNG in ``out``.

    Returns ``(rows, failures)``: rows (name, summary, size, quality, notes) for the images
    done (notes such as "RGB converted to grey ..." are also in the JSON), and (name,
    message) for images that could not be read or segmented. A bad image does not stop
    the others, and leaves none of its outputs behind. ``out`` is locked while the job
    runs.

    ``options`` (a :class:`SegmentOptions`) go to :meth:`Segmenter.segment`; ``pixel_size``
    overrides the files'.
    ``skip_done``: images whose outputs all exist are measured from them, not redone.
    ``chunk``: segment every image window by window in windows of this size, into zarr
    (zarr inputs and TIFFs over ``io.lazy.LARGE_PIXELS`` always are, in 2048 px windows).
    """
    from ..io.folders import FolderLock, check_not_overwriting, check_unique_stems, locked

    out = Path(out)
    paths = [Path(p) for p in paths]
    check_unique_stems(paths)
    check_not_overwriting([out / n for p in paths for n in outputs_of(p, True, chunk)], paths)
    lock = FolderLock(out, "segment")
    return locked(_segment_files_job(model, paths, out, options, pixel_size, include_border,
                                     save_probability, skip_done, weights_name, chunk), lock)


def _segment_files_job(model, paths, out, options, pixel_size, include_border,
                       save_probability, skip_done, weights_name, chunk):
    import errno
    import json

    rows, failures = [], []
    for i, path in enumerate(paths):
        if skip_done and all((out / n).exists() for n in outputs_of(path, False, chunk)):
            summary = json.loads((out / f"{path.stem}_grains_summary.json").read_text())
            rows.append((path.name, summary["summary"], None, summary.get("quality"),
                         summary.get("notes", [])))
            continue
        try:
            row = yield from segment_one(model, path, out, i, len(paths), options=options,
                                         pixel_size=pixel_size,
                                         include_border=include_border,
                                         save_probability=save_probability,
                                         weights_name=weights_name, chunk=chunk)
        except (ValueError, OSError) as err:
            if isinstance(err, OSError) and err.errno in (errno.ENOSPC,
                                                          getattr(errno, "EDQUOT", -1)):
                raise  # the next image would fail the same way
            failures.append((path.name, str(err)))
            continue
        rows.append(row)
    return rows, failures


def segment_one(model, path: Path, out: Path, i: int, total: int, *, options=None,
                pixel_size=None, include_border: bool = False, save_probability: bool = False,
                weights_name: str = "", chunk: int | None = None,
                shown_path: str | None = None):
    """Job: segment image ``i`` of ``total`` and write its outputs (all or none); returns
    its row (name, summary, size, quality, notes). ``shown_path``: the input as the user
    named it, for the summary JSON (default ``path``)."""
    if by_windows(path, chunk):
        return (yield from _segment_by_windows(
            model, path, out, i, total, options=options, pixel_size=pixel_size,
            include_border=include_border, save_probability=save_probability,
            weights_name=weights_name, chunk=chunk, shown_path=shown_path))
    from ..analysis.statistics import grain_summary, grain_table
    from ..io.atomic import all_or_none
    from ..io.images import read_image
    from ..io.pictures import overlay, png_step, write_png
    from ..io.tables import write_csv, write_json
    from ..io.tiff import write_tiff
    from ..provenance import versions

    loaded = read_image(path, grey=True, colour=model.channels == 3)
    size = pixel_size or loaded.pixel_size
    result = yield from relay(
        model.segment(loaded.data, options),
        lambda e: Progress(e.step, e.total, f"image {i + 1}/{total}: {e.message}"))
    stem = out / path.stem
    scale = _imagej_scale(size)
    labels = result.labels
    with all_or_none([out / n for n in output_names(path.stem, save_probability)]):
        write_tiff(f"{stem}_boundaries.tif", result.boundaries.astype("uint8") * 255, **scale)
        if labels.max() < 2**16:
            write_tiff(f"{stem}_labels.tif", labels.astype("uint16"), **scale)
        else:
            write_tiff(f"{stem}_labels.tif", labels)
        if save_probability:
            write_tiff(f"{stem}_probability.tif", result.probability, **scale)
        step = png_step(labels.shape)  # the overlay is drawn at the picture's size only
        write_png(f"{stem}_overlay.png", overlay(loaded.data[::step, ::step],
                                                 result.boundaries[::step, ::step]))
        table = grain_table(labels, size)
        summary = grain_summary(labels, table, size, include_border)
        write_csv(f"{stem}_grains.csv", table)
        write_json(f"{stem}_grains_summary.json", {
            "image": path.name, "input": shown_path or str(path), "model": weights_name,
            "pixel_size": None if size is None else size.as_dict(),
            "parameters": {**result.options.to_dict(), "include_border": include_border},
            "quality": result.quality, "notes": loaded.notes, "software": versions(),
            "summary": summary,
            "grain_table": f"{path.stem}_grains.csv"})
    return path.name, summary, size, result.quality, loaded.notes


def _segment_by_windows(model, path, out, i, total, *, options, pixel_size, include_border,
                        save_probability, weights_name, chunk, shown_path):
    """Job: :func:`segment_one` for an image read and written window by window (zarr)."""
    import tempfile

    from ..analysis.instances import boundaries_from_labels
    from ..analysis.statistics import summary_from
    from ..io.atomic import all_or_none
    from ..io.lazy import open_lazy, replace_dir
    from ..io.pictures import overlay, png_step, write_png
    from ..io.tables import write_csv, write_json
    from ..provenance import versions
    from .chunked import DEFAULT_CHUNK, segment_chunked

    image = open_lazy(path)
    size = pixel_size or image.pixel_size
    names = output_names(path.stem, save_probability, lazy=True)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out, prefix=f".{path.stem}-") as work:
        work = Path(work)
        result = yield from relay(
            segment_chunked(model, image, work, options, chunk=chunk or DEFAULT_CHUNK,
                            pixel_size=size, save_probability=save_probability),
            lambda e: Progress(e.step, e.total, f"image {i + 1}/{total}: {e.message}"))
        summary = summary_from(result.table, result.summary_parts["intercepts"],
                               result.summary_parts["jeffries"], image.shape, size,
                               include_border)
        h, w = image.shape
        step = png_step((h, w))
        small = np.asarray(result.labels[::step, ::step])
        stem = out / path.stem
        with all_or_none([out / n for n in names]):
            for kind in ("boundaries", "labels") + (("probability",) if save_probability
                                                     else ()):
                replace_dir(work / f"{kind}.zarr", out / f"{path.stem}_{kind}.zarr")
            write_png(f"{stem}_overlay.png", overlay(image.read(0, h, 0, w, step),
                                                     boundaries_from_labels(small)))
            write_csv(f"{stem}_grains.csv", result.table)
            write_json(f"{stem}_grains_summary.json", {
                "image": path.name, "input": shown_path or str(path), "model": weights_name,
                "pixel_size": None if size is None else size.as_dict(),
                "parameters": {**result.options.to_dict(), "include_border": include_border,
                               "chunk": chunk or DEFAULT_CHUNK},
                "segmented": "window by window; labels are unique but not consecutive",
                "scale": result.scale, "notes": image.notes, "software": versions(),
                "summary": summary, "grain_table": f"{path.stem}_grains.csv"})
    return path.name, summary, size, {}, image.notes


def _imagej_scale(size) -> dict:
    """tifffile arguments that record the pixel size the ImageJ way (read back by `grains`)."""
    if size is None:
        return {}
    return {"imagej": True, "resolution": (1 / size.value, 1 / size.value),
            "metadata": {"unit": size.unit}, "compression": "zlib"}
