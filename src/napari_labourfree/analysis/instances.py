"""From a boundary mask (or boundary probability) to grain instance labels."""

from __future__ import annotations

import itertools
import math
import os

import numpy as np
from scipy import ndimage as ndi
from skimage import measure, morphology, segmentation


def as_boundary_mask(image: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """A boolean boundary mask (True = boundary) from a mask or a boundary probability.

    Booleans are taken as they are. Otherwise a pixel is boundary when it is above
    ``threshold``; the default is half the image's maximum, which reads 0/1 and 0/255 masks
    and anti-aliased 8-bit masks alike (and 0.5 for a probability in [0, 1]).
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"a boundary mask must be 2-D, not shape {image.shape}")
    if image.dtype == bool:
        return image
    if not np.issubdtype(image.dtype, np.number):
        raise ValueError(f"a boundary mask must be numeric, not {image.dtype}")
    if np.issubdtype(image.dtype, np.floating) and np.isnan(image).any():
        raise ValueError("the boundary mask contains NaN values")
    if threshold is None:
        top = float(image.max()) if image.size else 0.0
        if top <= 0:
            return np.zeros(image.shape, bool)
        threshold = top / 2
    return image > threshold


def grains_from_boundaries(
    boundaries: np.ndarray,
    *,
    threshold: float | None = None,
    min_area: int = 0,
    close_gaps: float = 0.0,
    fill_boundaries: bool = False,
) -> np.ndarray:
    """Label the grains between boundaries (uint32, 0 = boundary or removed speck).

    Grains are the 4-connected regions of non-boundary pixels. Options:

    - ``close_gaps`` (px): split grains that leak into each other through a gap in the
      boundary network. Each grain is seeded at the maxima of its distance to the
      boundaries that stand out by more than ``close_gaps`` (h-maxima), and a watershed on
      that distance cuts the neck between two seeds.
    - ``min_area`` (px): grains smaller than this are dropped (or, with
      ``fill_boundaries``, absorbed by their neighbours).
    - ``fill_boundaries``: give every boundary pixel to the nearest grain, so the grains
      tile the image (the planimetric view of ASTM E112).
    Labels are renumbered 1..N in raster order.
    """
    boundary = as_boundary_mask(boundaries, threshold)
    interior = ~boundary
    labels = measure.label(interior, connectivity=1)
    if close_gaps > 0 and labels.max() > 0:
        labels = _split_at_necks(interior, labels, close_gaps)
    if min_area > 1:
        labels = _remove_small(labels, min_area)
    if fill_boundaries:
        labels = fill_unlabelled(labels)
    labels, _, _ = segmentation.relabel_sequential(labels)
    return labels.astype(np.uint32, copy=False)


def grains_from_maps(probability: np.ndarray, distance: np.ndarray, *,
                     seed_threshold: float = 0.5, min_area: int = 0,
                     min_evidence: float = 0.0,
                     coarse: np.ndarray | None = None) -> np.ndarray:
    """Grains from a boundary probability and a distance map (both in [0, 1]) by a seeded
    watershed: robust to gaps in the boundaries.

    ``distance`` is each pixel's predicted distance to its grain's boundary as a fraction
    of the grain's largest one, so every grain has a core above ``seed_threshold``, and two
    grains' cores stay apart where the boundary between them is too faint to threshold.
    The watershed floods ``probability - distance`` from those cores; every pixel gets a
    grain (uint32, 1..N). Neighbours whose shared line has a mean boundary probability
    below ``min_evidence`` are one grain whose core broke in two, and are merged (see
    :func:`merge_weak_boundaries`); grains under ``min_area`` px merge into their
    neighbours. ``coarse``: a reduced view's boundary probability, which the merge reads
    too (see :func:`merge_weak_boundaries`).
    """
    probability = np.asarray(probability, np.float32)
    distance = np.asarray(distance, np.float32)
    if probability.ndim != 2 or probability.shape != distance.shape:
        raise ValueError(f"probability {probability.shape} and distance {distance.shape} "
                         "must be 2-D and of the same size")
    if not (np.isfinite(probability).all() and np.isfinite(distance).all()):
        raise ValueError("the probability or distance map contains NaN or infinite values")
    if coarse is not None and (np.ndim(coarse) != 2 or any(
            c > p for c, p in zip(np.shape(coarse), probability.shape, strict=True))):
        raise ValueError(f"the coarse probability {np.shape(coarse)} must be 2-D and no "
                         f"larger than the probability {probability.shape}")
    # int32 ids (skimage's label gives int64): on a 67 Mpx image each copy is 268 MB less
    seeds, count = ndi.label(distance > seed_threshold, output=np.int32)
    if count == 0:
        return np.zeros(probability.shape, np.uint32)
    labels = flood(probability, seeds, minus=distance, reuse_seeds=True)
    del seeds  # (the labels may be written into it: a whole-image array less)
    if min_evidence > 0:
        labels = merge_weak_boundaries(labels, probability, min_evidence, coarse=coarse)
    if min_area > 1:  # (in place: these labels are this function's own)
        labels = fill_unlabelled(_remove_small(labels, min_area, in_place=True),
                                 in_place=True)
    labels, _, _ = segmentation.relabel_sequential(labels)
    # ids are >= 0: int32 read as uint32 is the same numbers, without a copy
    if labels.dtype == np.int32:
        return labels.view(np.uint32)
    return labels.astype(np.uint32, copy=False)


STRIP_ROWS = 1024  # rows per strip of a parallel flood
STRIP_MARGIN = 256  # rows of context on each side of a strip
# pixels of a strip with its context: skimage floods in float64, about 28 bytes a pixel,
# so this bounds a strip's working memory to about 235 MB (two at once on two cores)
STRIP_PIXELS = 2**23


def flood(surface: np.ndarray, seeds: np.ndarray, *, minus: np.ndarray | None = None,
          reuse_seeds: bool = False) -> np.ndarray:
    """``segmentation.watershed(surface - minus, seeds)`` (``minus`` optional), faster; the
    same labels on the maps tried. The difference is taken a strip at a time, so the
    whole-image surface is never held. ``reuse_seeds``: the labels may be written into
    ``seeds`` (which are then lost): a whole-image array less.

    Only the seeds' edge pixels start the flood: a seed's inner pixels cannot label
    anything, and leaving them out spares a quarter of the queue. Where surface values tie
    exactly, a pixel between two seeds may then go to the other one (skimage's own choice
    there depends on the layout of its queue). Images of two STRIP_ROWS or more, on more
    than one core, are flooded strip by strip in threads (skimage releases the GIL), each
    strip (at most two STRIP_ROWS and STRIP_PIXELS with its context, which bounds the
    memory) with STRIP_MARGIN rows of context. Where a strip's context rows nearest a cut
    disagree with its neighbour's own rows, the whole image is flooded at once instead.
    That check is a guard, not a proof: a front that runs further than the context from
    a seed outside the strip could still end differently.
    """
    import threading
    from concurrent.futures import ThreadPoolExecutor

    h = surface.shape[0]

    def one(rows: slice, read: threading.Event | None = None) -> np.ndarray:
        # the strip's seeds and one row past it each side (a 3x3 erosion needs no more),
        # read once: with reuse_seeds these rows are written over once every strip that
        # reads them has (``read``)
        top, bottom = rows.start or 0, h if rows.stop is None else rows.stop
        a, b = max(0, top - 1), min(h, bottom + 1)
        try:
            near = seeds[a:b].copy()
        finally:  # (set even if the copy fails, so the writer never waits for ever)
            if read is not None:
                read.set()
        inner = ndi.binary_erosion(near > 0, np.ones((3, 3), bool),
                                   border_value=1)[top - a:bottom - a]
        starts = near[top - a:bottom - a]
        kept = starts[inner]
        starts[inner] = 0
        # the surface made in the call, so skimage's float64 copy of it is the only one held
        flooded = segmentation.watershed(
            surface[rows] if minus is None else surface[rows] - minus[rows], starts,
            mask=~inner)
        flooded[inner] = kept
        return flooded

    threads = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                  else os.cpu_count() or 1, h // STRIP_ROWS)
    if threads < 2:
        return one(slice(None))
    # Memory grows with the strip and the threads, not the image; narrower strips of wide
    # images cost more context rows, so more time.
    strip_rows = max(STRIP_MARGIN, min(2 * STRIP_ROWS,
                                       STRIP_PIXELS // surface.shape[1] - 2 * STRIP_MARGIN))
    count = max(threads, -(-h // strip_rows))
    cuts = np.linspace(0, h, count + 1).round().astype(int)
    parts = [slice(max(0, a - STRIP_MARGIN), min(h, b + STRIP_MARGIN))
             for a, b in itertools.pairwise(cuts)]
    read = [threading.Event() for _ in parts]
    # where the seeds are, a bit a pixel, to give them back if all is flooded again
    seeded = np.packbits(seeds > 0) if reuse_seeds else None
    # Each strip's own rows go into the result as it arrives; of the rest only the context
    # rows the cut check needs are kept, so finished strips do not pile up in memory.
    half = max(1, STRIP_MARGIN // 2)
    labels = seeds if reuse_seeds else np.empty(surface.shape, seeds.dtype)
    below_cut, above_cut = {}, {}  # strip i's context rows past its lower / upper cut
    with ThreadPoolExecutor(threads) as pool:
        strips = pool.map(one, parts, read)
        for i, strip in enumerate(strips):
            a, b, start = cuts[i], cuts[i + 1], parts[i].start
            if reuse_seeds:  # every strip that reads these rows has read them
                for part, done in zip(parts, read, strict=True):
                    if part.start - 1 < b and part.stop + 1 > a:
                        done.wait()
            labels[a:b] = strip[a - start:b - start]
            if i + 1 < count:
                below_cut[i] = strip[b - start:min(b + half, cuts[i + 2]) - start].copy()
            if i > 0:
                above_cut[i] = strip[max(a - half, cuts[i - 1]) - start:a - start].copy()
    # each strip's context rows nearest its cut must agree with the neighbour's own rows
    for i, cut in enumerate(cuts[1:-1]):
        lo, hi = max(cut - half, cuts[i]), min(cut + half, cuts[i + 2])
        if not (np.array_equal(below_cut[i], labels[cut:hi])
                and np.array_equal(above_cut[i + 1], labels[lo:cut])):
            if reuse_seeds:  # a flood keeps every seed pixel's label: the seeds again
                labels[~np.unpackbits(seeded, count=labels.size).reshape(labels.shape)
                       .view(bool)] = 0
            return one(slice(None))
    return labels


def merge_weak_boundaries(labels: np.ndarray, probability: np.ndarray,
                          min_evidence: float, keep_ids: bool = False,
                          coarse: np.ndarray | None = None) -> np.ndarray:
    """Merge neighbouring grains whose shared boundary has a mean ``probability`` below
    ``min_evidence`` (all such pairs at once, transitively).

    The evidence of a shared boundary is the mean probability over the pixel pairs that
    straddle it, so a short faint stretch in a real boundary does not merge two grains,
    while a line drawn through a grain's interior (no evidence anywhere) does.
    Merged grains are numbered 1..N, or with ``keep_ids`` each takes the smallest id of
    its parts (so that ids found for a whole image survive work on a piece of it).

    ``coarse``: a reduced view's boundary probability (any smaller size). A pixel's
    evidence is then the larger of ``probability`` and ``coarse`` enlarged (bilinear, as
    ``segmenter.scale.resize``), read only where grains meet: no image-sized copy is made.
    A reduced view averages noise away and sees grains whole, so it can be sure of an
    edge that is lost in noise at full resolution.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    labels = np.asarray(labels)
    n = int(labels.max()) + 1
    a, b, p = _straddling_pairs(labels, probability, coarse)
    if not len(a):
        return labels
    key = np.minimum(a, b).astype(np.int64)
    key *= n
    key += np.maximum(a, b).astype(np.int64)
    del a, b
    pairs, inverse = np.unique(key, return_inverse=True)
    del key
    evidence = np.bincount(inverse, p) / np.bincount(inverse)
    weak = evidence < min_evidence
    if not weak.any():
        return labels
    i, j = np.divmod(pairs[weak], n)
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    count, component = connected_components(graph, directed=False)
    if keep_ids:
        smallest = np.full(count, n, np.int64)
        np.minimum.at(smallest, component, np.arange(n))
        return smallest[component][labels].astype(labels.dtype, copy=False)
    merged = component[labels]
    merged += 1
    merged[labels == 0] = 0
    return merged


def _straddling_pairs(labels: np.ndarray, probability: np.ndarray,
                      coarse: np.ndarray | None = None):
    """(a, b, p) for every pair of side-by-side pixels of two different grains (ids > 0),
    across columns then rows: their ids and the larger probability of the two (of
    ``probability``, and of ``coarse`` enlarged when given).
    Only the straddling pairs are gathered, so the memory is a few bytes per pixel, not
    the 50 of comparing every pair in int64."""
    found = []
    for (dy, dx), first, second in (
            ((0, 1), (slice(None), slice(None, -1)), (slice(None), slice(1, None))),
            ((1, 0), (slice(None, -1), slice(None)), (slice(1, None), slice(None)))):
        la, lb = labels[first], labels[second]
        cross = la != lb
        cross &= la > 0
        cross &= lb > 0
        p = np.maximum(probability[first][cross], probability[second][cross])
        if coarse is not None:
            rows, cols = np.nonzero(cross)
            for y, x in ((rows, cols), (rows + dy, cols + dx)):
                np.maximum(p, enlarged_at(coarse, labels.shape, y, x), out=p)
        found.append((la[cross], lb[cross], p))
    return tuple(np.concatenate(parts) for parts in zip(*found, strict=True))


def enlarged_at(small: np.ndarray, shape: tuple[int, int], rows: np.ndarray,
                cols: np.ndarray) -> np.ndarray:
    """``small`` enlarged to ``shape`` by bilinear interpolation (half-pixel centres, as
    torch's ``interpolate(align_corners=False)``), read at pixels (``rows``, ``cols``)."""
    def axis(index, n_small, n_large):
        at = np.maximum((index + 0.5) * (n_small / n_large) - 0.5, 0)
        low = np.minimum(at.astype(np.intp), n_small - 1)
        return low, np.minimum(low + 1, n_small - 1), (at - low).astype(np.float32)

    y0, y1, fy = axis(rows, small.shape[0], shape[0])
    x0, x1, fx = axis(cols, small.shape[1], shape[1])
    top = small[y0, x0] * (1 - fx) + small[y0, x1] * fx
    bottom = small[y1, x0] * (1 - fx) + small[y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32, copy=False)


COUNT_PIXELS = 1 << 22  # pixels counted at a time by pixel_counts


def pixel_counts(labels: np.ndarray) -> np.ndarray:
    """``np.bincount(labels.ravel())``, a few Mpx at a time: bincount copies its input to
    int64 first, 537 MB for a 67 Mpx image."""
    flat = np.asarray(labels).reshape(-1)
    n = int(flat.max()) + 1 if flat.size else 1
    counts = np.zeros(n, np.int64)
    for start in range(0, flat.size, COUNT_PIXELS):
        counts += np.bincount(flat[start:start + COUNT_PIXELS], minlength=n)
    return counts


def _remove_small(labels: np.ndarray, min_area: int, *, in_place: bool = False
                  ) -> np.ndarray:
    """Zero the labels of grains smaller than ``min_area`` px (a bincount lookup: the same
    as skimage's remove_small_objects, without its one-label warning and its 0.26 rename
    of min_size); ``in_place``: in ``labels`` itself."""
    small = pixel_counts(labels) < min_area
    small[0] = False
    if not small.any():
        return labels
    if in_place:
        labels[small[labels]] = 0
        return labels
    return np.where(small[labels], 0, labels)


def _split_at_necks(interior: np.ndarray, labels: np.ndarray, h: float) -> np.ndarray:
    distance = ndi.distance_transform_edt(interior)
    seeds = measure.label(morphology.h_maxima(distance, h), connectivity=2)
    split = segmentation.watershed(-distance, seeds, mask=interior)
    # A grain too thin to hold a seed (its peak is below h) keeps its original extent.
    missing = interior & (split == 0)
    if missing.any():
        lost = measure.label(missing, connectivity=1)
        split = np.where(missing, lost + split.max(), split)
    return split


# a box costs Python overhead worth about this many pixels of distance transform (measured:
# ~33 us a box against ~70 ns a pixel)
BOX_OVERHEAD_PX = 500


def fill_unlabelled(labels: np.ndarray, *, in_place: bool = False) -> np.ndarray:
    """Give every unlabelled pixel to its nearest grain (no change if none is unlabelled);
    ``in_place``: in ``labels`` itself (the same result: the nearest grain is looked for
    among the pixels labelled before)."""
    labels = np.asarray(labels)
    if labels.max() == 0 or labels.min() > 0:
        return labels
    # skimage's expand_labels, in a few bytes a pixel instead of 33. Unlike
    # expand_labels(distance=max(shape)) it also fills pixels further than that from any
    # grain (a single labelled corner pixel of a square image).
    # A hole's pixels all have a grain within the diagonal of its bounding box (grains
    # ring every 8-connected hole), so the nearest grain is found in the box widened by
    # that much. Small scattered holes (removed specks) are filled box by box; holes
    # whose boxes add up to the image (a boundary network, long lines) all at once.
    holes, _ = ndi.label(labels == 0, np.ones((3, 3), bool), output=np.int32)
    crops = []
    for box in ndi.find_objects(holes):
        reach = math.ceil(math.hypot(*(s.stop - s.start + 1 for s in box)))
        crops.append(tuple(slice(max(0, s.start - reach), min(n, s.stop + reach))
                           for s, n in zip(box, labels.shape, strict=True)))
    work = sum(math.prod(s.stop - s.start for s in crop) for crop in crops)
    if work + BOX_OVERHEAD_PX * len(crops) > labels.size:
        del holes
        return _nearest_grain_everywhere(labels, in_place=in_place)
    filled = labels if in_place else labels.copy()
    for i, crop in enumerate(crops, start=1):
        part, found = labels[crop], holes[crop]
        rows, cols = ndi.distance_transform_edt(found > 0, return_distances=False,
                                                return_indices=True)
        hole = found == i
        filled[crop][hole] = part[rows[hole], cols[hole]]
    return filled


def _nearest_grain_everywhere(labels: np.ndarray, *, in_place: bool = False) -> np.ndarray:
    """Every unlabelled pixel from its nearest grain, by one whole-image distance transform
    (int32 indices, looked up a block of rows at a time: about 13 bytes a pixel). In place
    the result is the same: a pixel is only ever read from a labelled one, which keeps its
    id."""
    rows, cols = ndi.distance_transform_edt(labels == 0, return_distances=False,
                                            return_indices=True)
    filled = labels if in_place else np.empty_like(labels)
    for start in range(0, labels.shape[0], 256):
        block = slice(start, start + 256)
        filled[block] = labels[rows[block], cols[block]]
    return filled


def border_labels(labels: np.ndarray) -> np.ndarray:
    """The sorted ids (> 0) of grains that touch the image edge."""
    edge = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    ids = np.unique(edge)
    return ids[ids > 0]


def boundaries_from_labels(labels: np.ndarray) -> np.ndarray:
    """A boolean boundary mask from a label image: label 0, plus a 1-px line where labels meet.

    The line is drawn on the upper/left side of each change, so touching grains get a line
    one pixel wide (scikit-image's find_boundaries marks both sides).
    """
    labels = np.asarray(labels)
    boundary = labels == 0
    boundary[:-1] |= labels[:-1] != labels[1:]
    boundary[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    return boundary


INPUT_KINDS = ("auto", "mask", "labels", "probability")


def guess_kind(image: np.ndarray) -> str:
    """'mask', 'labels' or 'probability' for an image whose kind the user did not say.

    Two values (0/1, 0/255, bool) -> a boundary mask. Floats with more -> a boundary
    probability. Integers with more -> grain labels, except an 8-bit image whose two
    commonest values are 0 and 255 (an anti-aliased mask; say ``kind`` for anything else).
    """
    image = np.asarray(image)
    if image.dtype == bool:
        return "mask"
    values, counts = np.unique(image, return_counts=True)
    if len(values) <= 2:
        return "mask"
    if np.issubdtype(image.dtype, np.floating):
        return "probability"
    if image.dtype == np.uint8 and set(values[np.argsort(counts)[-2:]]) == {0, 255}:
        return "mask"
    return "labels"


def grains_from_image(image: np.ndarray, kind: str = "auto", *, threshold: float | None = None,
                      **options) -> tuple[np.ndarray, str]:
    """Grain labels from a boundary mask, a boundary probability or a label image.

    Returns (labels, kind used). ``options`` go to :func:`grains_from_boundaries`; a label
    image is taken as it is, except that ``min_area`` still drops specks.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D image, not shape {image.shape}")
    if kind not in INPUT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(INPUT_KINDS)}, not {kind!r}")
    if kind == "auto":
        kind = guess_kind(image)
    if kind == "labels":
        if not (np.issubdtype(image.dtype, np.integer) or image.dtype == bool):
            raise ValueError(f"a label image must hold integers, not {image.dtype}")
        if image.size and image.min() < 0:
            raise ValueError("a label image must not hold negative ids")
        labels = image.astype(np.uint32)
        if options.get("min_area", 0) > 1:
            labels = _remove_small(labels, options["min_area"])
        return labels, kind
    if kind == "probability" and threshold is None:
        if np.issubdtype(image.dtype, np.floating) and np.nanmax(image) > 1:
            raise ValueError("a boundary probability above 1: give the threshold explicitly")
        threshold = 0.5 if np.issubdtype(image.dtype, np.floating) else None
    return grains_from_boundaries(image, threshold=threshold, **options), kind


def boundaries_from_image(image: np.ndarray, kind: str = "auto", threshold: float | None = None
                          ) -> tuple[np.ndarray, np.ndarray | None, str]:
    """(boundary mask, labels or None, kind) from a mask, probability or label image."""
    image = np.asarray(image)
    if kind == "auto":
        kind = guess_kind(image)
    if kind == "labels":
        labels, _ = grains_from_image(image, "labels")
        return boundaries_from_labels(labels), labels, kind
    if kind == "probability" and threshold is None:
        threshold = 0.5
    if kind not in INPUT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(INPUT_KINDS)}, not {kind!r}")
    return as_boundary_mask(image, threshold), None, kind
