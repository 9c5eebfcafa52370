"""Segment an image larger than memory, window by window, into zarr.

The same network, tiling and blending as :meth:`Segmenter.segment`, driven one window
(``chunk`` px square, plus a margin of context) at a time, in four passes:

1. the network's maps for each window (normalised with levels found on an overview of the
   whole image, at one scale chosen on its central part) -> a temporary zarr;
2. grain cores (distance map above the seed level), or the grain interiors between
   thresholded boundaries for a model without a distance map, labelled across the whole
   image by dask-image, so a grain cut by a window edge has one id;
3. each window's grains grown from those ids (seeded watershed, weak-line merges, small
   grains merged) with a margin of context -> labels and boundaries;
4. the grain table: each grain measured once, in a window that holds all of it.

Only a few windows are in memory at any time.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..jobs import Job, Progress, relay
from ..normalise import (
    as_channels,
    check_recipe,
    colour_to_grey,
    grey_axis,
    is_colour,
    to_network,
    unit_levels,
)
from .model import merge_evidence, tiling
from .options import SegmentOptions

DEFAULT_CHUNK = 2048
SCALE_VIEW = 2048  # the central view on which the grain size (and scale) is chosen


@dataclass
class ChunkedResult:
    labels: object      # zarr array (uint32): grain ids, unique but not consecutive
    boundaries: object  # zarr array (uint8): 255 on the lines between grains
    table: dict         # grain table (see analysis.statistics.grain_table)
    summary_parts: dict  # intercepts and Jeffries count, for statistics.summary_from
    options: SegmentOptions
    scale: float
    probability: object = None  # zarr float32, when asked for


class _Input:
    """Network input for any window, with levels (and colour axis) of the whole image."""

    def __init__(self, model, image):
        self.model, self.image = model, image
        overview = image.overview()
        self.axis = grey_axis(overview) if model.channels == 1 and is_colour(overview) \
            else None
        self.levels = unit_levels(self._channels(overview).astype(np.float32),
                                  check_recipe(model.normalisation))

    def _channels(self, pixels: np.ndarray) -> np.ndarray:
        if self.axis is not None:
            return colour_to_grey(pixels, self.axis)
        return as_channels(pixels, self.model.channels)

    def window(self, y0, y1, x0, x1) -> np.ndarray:
        pixels = self._channels(self.image.read(y0, y1, x0, x1))
        return to_network(pixels, self.model.normalisation, self.levels)


def segment_chunked(model, image, work: Path, options: SegmentOptions | None = None, *,
                    chunk: int = DEFAULT_CHUNK, pixel_size=None,
                    save_probability: bool = False) -> Job[ChunkedResult]:
    """Job: segment ``image`` (a :class:`~napari_labourfree.io.lazy.LazyImage`) into zarr
    arrays in ``work`` (labels.zarr, boundaries.zarr, and probability.zarr when asked)."""
    from ..io.lazy import create_zarr

    options = model.resolved(options or SegmentOptions())
    if options.close_gaps:
        raise ValueError("close_gaps is not available for images segmented window by "
                         "window; leave it off")
    if chunk < 256 or chunk % 16:
        raise ValueError(f"chunk must be a multiple of 16 and at least 256 px, not {chunk}")
    work = Path(work)
    h, w = image.shape
    source = _Input(model, image)
    scale, diameter = yield from _choose_scale(model, source, image.shape, options)
    # Windows shrink when the network looks at an enlarged image (tiny grains), so that
    # what it sees of one window stays about chunk x chunk px.
    chunk = max(256, int(chunk / max(scale, 1.0)) // 16 * 16)
    # Context for the network: its tile overlap, in image px. Context for growing grains
    # (cheap): room for whole grains, so a grain reaching into a window grows as in one
    # piece; 256 px when the grain size is not known.
    context = min(max(16, math.ceil(options.overlap / scale)), max(h, w))
    room = min(max(64, math.ceil(2.5 * diameter) if diameter else 256), max(h, w))
    windows = [(y, min(y + chunk, h), x, min(x + chunk, w))
               for y in range(0, h, chunk) for x in range(0, w, chunk)]
    steps = 5 * len(windows) + 1
    chunks = (min(chunk, h), min(chunk, w))

    with tempfile.TemporaryDirectory(dir=work, prefix=".labourfree-") as tmp:
        tmp = Path(tmp)
        # probability[, distance[, what the merge reads]] (``maps_at``, ``merge_evidence``)
        count = (3 if scale < 1 else 2) if model.has_distance else 1
        maps = [create_zarr(tmp / f"map{k}.zarr", (h, w), chunks, "float32")
                for k in range(count)]
        for n, (y0, y1, x0, x1) in enumerate(windows):
            (ey0, ey1, ex0, ex1), core = _extended((y0, y1, x0, x1), context, (h, w))
            x = source.window(ey0, ey1, ex0, ex1)
            found, _, coarse = yield from relay(
                model.maps_at(x, scale, options),
                lambda e, n=n: Progress(
                    n, steps, f"window {n + 1}/{len(windows)}: {e.message} {e.step}/{e.total}"))
            if coarse is not None:
                found = [*found, merge_evidence(found[0], coarse)]
            for k, target in enumerate(maps):
                target[y0:y1, x0:x1] = found[k][core]
        yield Progress(len(windows), steps, "joining grain cores across windows")
        seeds, method = _global_seeds(maps, options, tmp / "seeds.zarr")

        labels = create_zarr(work / "labels.zarr", (h, w), chunks, "uint32", pixel_size)
        boundaries = create_zarr(work / "boundaries.zarr", (h, w), chunks, "uint8",
                                 pixel_size)
        probability = create_zarr(work / "probability.zarr", (h, w), chunks, "float32",
                                  pixel_size) if save_probability else None
        for n, (y0, y1, x0, x1) in enumerate(windows):
            ext, core = _extended((y0, y1, x0, x1), room, (h, w))
            window = tuple(slice(a, b) for a, b in ((ext[0], ext[1]), (ext[2], ext[3])))
            grown, lines = _grow(method, seeds[window], [m[window] for m in maps], options)
            labels[y0:y1, x0:x1] = grown[core]
            if lines is not None:  # boundaries as thresholded, not from the grains
                boundaries[y0:y1, x0:x1] = lines[core].astype(np.uint8) * 255
            if probability is not None:
                probability[y0:y1, x0:x1] = maps[0][y0:y1, x0:x1]
            yield Progress(len(windows) + 1 + n, steps,
                           f"grains in window {n + 1}/{len(windows)}")
        if method == "watershed":
            # the lines between grains, drawn from the joined labels (one pixel of the
            # neighbours' grains is enough), so that they also run along window edges
            from ..analysis.instances import boundaries_from_labels

            for n, (y0, y1, x0, x1) in enumerate(windows):
                ext, core = _extended((y0, y1, x0, x1), 1, (h, w))
                joined = np.asarray(labels[ext[0]:ext[1], ext[2]:ext[3]])
                lines = boundaries_from_labels(joined) & (joined > 0)
                boundaries[y0:y1, x0:x1] = lines[core].astype(np.uint8) * 255
                yield Progress(2 * len(windows) + 1 + n, steps,
                               f"boundaries in window {n + 1}/{len(windows)}")

    from ..analysis.statistics import measure_chunked

    table, parts = yield from relay(
        measure_chunked(labels, chunk, pixel_size),
        lambda e: Progress(3 * len(windows) + 1 + e.step, steps, e.message))
    return ChunkedResult(labels, boundaries, table, parts, options, scale, probability)


def _extended(window, margin: int, shape):
    """The window grown by ``margin`` (clipped to the image) and the slices that cut the
    window back out of it."""
    y0, y1, x0, x1 = window
    ey0, ey1 = max(0, y0 - margin), min(shape[0], y1 + margin)
    ex0, ex1 = max(0, x0 - margin), min(shape[1], x1 + margin)
    return (ey0, ey1, ex0, ex1), (slice(y0 - ey0, y1 - ey0), slice(x0 - ex0, x1 - ex0))


def _choose_scale(model, source: _Input, shape, options: SegmentOptions):
    """Job: (scale, mean grain diameter in px or None), chosen on the central view."""
    h, w = shape
    vh, vw = min(h, SCALE_VIEW), min(w, SCALE_VIEW)
    y0, x0 = (h - vh) // 2, (w - vw) // 2
    x = source.window(y0, y0 + vh, x0, x0 + vw)
    choice, _, _ = yield from relay(model._choose_scale(x, options, tiling(options)),
                                    lambda e: Progress(0, 1, f"grain size: {e.message}"))
    return choice.scale, choice.grain_size


def _global_seeds(maps, options: SegmentOptions, path: Path):
    """Grain cores (or interiors) labelled over the whole image -> zarr, and the method."""
    import dask
    import dask.array as da
    import zarr
    from dask_image.ndmeasure import label

    if options.instances in ("auto", "watershed") and len(maps) > 1:
        cores, method = da.from_zarr(maps[1]) > options.seed_threshold, "watershed"
    else:
        cores, method = da.from_zarr(maps[0]) <= options.threshold, "components"
    ids, count = label(cores)  # 4-connected, as measure.label(connectivity=1)
    # threads of this process, also when this runs as a task on a dask cluster
    _, count = dask.compute(ids.astype(np.uint32).to_zarr(str(path), overwrite=True,
                                                          compute=False), count,
                            scheduler="threads")
    if method == "watershed" and int(count) == 0 and options.instances == "auto":
        return _global_seeds(maps[:1], options, path)  # no core anywhere: as in-memory
    return zarr.open_array(str(path), mode="r"), method


def _grow(method: str, seeds: np.ndarray, maps: list[np.ndarray], options: SegmentOptions):
    """Grains of one window (with its margin) from global ids: (labels, thresholded
    boundaries, or None where they are drawn later from the joined labels)."""
    from skimage import segmentation

    from ..analysis.instances import (
        _remove_small,
        fill_unlabelled,
        flood,
        merge_weak_boundaries,
    )

    local, _, inverse = segmentation.relabel_sequential(seeds)
    if method == "watershed":
        probability, distance, *evidence = maps
        if local.max() == 0:  # no grain core near: nothing found here
            return np.zeros(seeds.shape, np.uint32), None
        grown = flood(probability, local, minus=distance)
        if options.min_evidence:
            grown = merge_weak_boundaries(grown, evidence[0] if evidence else probability,
                                          options.min_evidence, keep_ids=True)
        if options.min_area > 1:
            grown = fill_unlabelled(_remove_small(grown, options.min_area))
        return np.asarray(inverse)[grown].astype(np.uint32), None
    lines = maps[0] > options.threshold
    grown = fill_unlabelled(_remove_small(local, options.min_area) if options.min_area > 1
                            else local)
    return np.asarray(inverse)[grown].astype(np.uint32), lines
