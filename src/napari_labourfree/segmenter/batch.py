"""Segment image files and write what `labourfree segment` promises for each of them."""

from __future__ import annotations

from pathlib import Path

from ..jobs import Job, Progress, relay

OUTPUTS = ("boundaries.tif", "labels.tif", "grains.csv", "grains_summary.json", "overlay.png")


def output_names(stem: str, probability: bool = False) -> list[str]:
    return [f"{stem}_{n}" for n in OUTPUTS + (("probability.tif",) if probability else ())]


def segment_files(model, paths: list[Path], out: Path, *, options=None,
                  pixel_size=None, include_border: bool = False,
                  save_probability: bool = False, skip_done: bool = False,
                  weights_name: str = "") -> Job[tuple[list, list]]:
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
    """
    from ..io.folders import FolderLock, check_not_overwriting, check_unique_stems, locked

    out = Path(out)
    paths = [Path(p) for p in paths]
    check_unique_stems(paths)
    check_not_overwriting([out / n for p in paths for n in output_names(p.stem, True)], paths)
    lock = FolderLock(out, "segment")
    return locked(_segment_files_job(model, paths, out, options, pixel_size, include_border,
                                     save_probability, skip_done, weights_name), lock)


def _segment_files_job(model, paths, out, options, pixel_size, include_border,
                       save_probability, skip_done, weights_name):
    import errno
    import json

    rows, failures = [], []
    for i, path in enumerate(paths):
        if skip_done and all((out / n).exists() for n in output_names(path.stem)):
            summary = json.loads((out / f"{path.stem}_grains_summary.json").read_text())
            rows.append((path.name, summary["summary"], None, summary.get("quality"),
                         summary.get("notes", [])))
            continue
        try:
            row = yield from _segment_one(model, path, out, i, len(paths), options,
                                          pixel_size, include_border, save_probability,
                                          weights_name)
        except (ValueError, OSError) as err:
            if isinstance(err, OSError) and err.errno in (errno.ENOSPC,
                                                          getattr(errno, "EDQUOT", -1)):
                raise  # the next image would fail the same way
            failures.append((path.name, str(err)))
            continue
        rows.append(row)
    return rows, failures


def _segment_one(model, path, out, i, total, options, pixel_size, include_border,
                 save_probability, weights_name):
    from ..analysis.statistics import grain_summary, grain_table
    from ..io.atomic import all_or_none
    from ..io.images import read_image
    from ..io.pictures import overlay, write_png
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
        write_png(f"{stem}_overlay.png", overlay(loaded.data, result.boundaries))
        table = grain_table(labels, size)
        summary = grain_summary(labels, table, size, include_border)
        write_csv(f"{stem}_grains.csv", table)
        write_json(f"{stem}_grains_summary.json", {
            "image": path.name, "input": str(path), "model": weights_name,
            "pixel_size": None if size is None else size.as_dict(),
            "parameters": {**result.options.to_dict(), "include_border": include_border},
            "quality": result.quality, "notes": loaded.notes, "software": versions(),
            "summary": summary,
            "grain_table": f"{path.stem}_grains.csv"})
    return path.name, summary, size, result.quality, loaded.notes


def _imagej_scale(size) -> dict:
    """tifffile arguments that record the pixel size the ImageJ way (read back by `grains`)."""
    if size is None:
        return {}
    return {"imagej": True, "resolution": (1 / size.value, 1 / size.value),
            "metadata": {"unit": size.unit}, "compression": "zlib"}
