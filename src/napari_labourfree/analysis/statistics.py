"""Per-grain measurements (scikit-image regionprops) and their summary, with units.

A grain table is a dict of equal-length numpy columns, ready for ``labels_layer.features``,
pandas or CSV. Column names carry their unit: ``area_px``, ``area_um2``, ``perimeter_um``.
"""

from __future__ import annotations

import math

import numpy as np
from skimage import measure, segmentation

from ..jobs import Job, Progress
from ..units import PixelSize
from .instances import border_labels, fill_unlabelled, pixel_counts

GrainTable = dict[str, np.ndarray]

_PROPS = ("label", "area", "equivalent_diameter_area", "perimeter_crofton")


def check_labels(labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ValueError(f"a label image must be 2-D, not shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer) and labels.dtype != bool:
        raise ValueError(f"a label image must hold integers, not {labels.dtype}")
    if labels.size == 0:
        raise ValueError(f"a label image must not be empty (shape {labels.shape})")
    if labels.min() < 0:
        raise ValueError("a label image must not hold negative ids")
    return labels


def grain_table(labels: np.ndarray, pixel_size: PixelSize | None = None) -> GrainTable:
    """Measure every grain (id > 0) of a 2-D label image.

    Columns: label, area, equivalent circular diameter, perimeter, circularity
    4*pi*A/P^2, aspect ratio (major/minor axis of the fitted ellipse), orientation of the
    major axis (degrees anticlockwise from the image's horizontal, in (-90, 90]),
    centroid, and touches_border. Lengths and areas come in px and, when ``pixel_size``
    is given, in its unit too.

    The perimeter is Crofton's estimate, which is unbiased for smooth boundaries (a digital
    disk of radius 50 px has circularity 1.009); for grains of a few pixels it can still
    make 4*pi*A/P^2 exceed 1, so circularity is clipped to 1.
    """
    labels = check_labels(labels)
    inverse = None
    if labels.max() > 4 * labels.size:  # sparse huge ids (4e9): regionprops would allocate
        labels, _, inverse = segmentation.relabel_sequential(labels.astype(np.int64))
    # regionprops takes any integer ids but bool and uint64; a copy of a 67 Mpx image in
    # int64 would be 537 MB (issue 16)
    measured = labels.astype(np.int64) if labels.dtype in (bool, np.uint64) else labels
    props = measure.regionprops_table(measured, properties=_PROPS)
    del measured
    props.update(_ellipses(labels, props["label"]))
    touches_border = np.isin(props["label"], border_labels(labels))
    if inverse is not None:
        props["label"] = inverse[props["label"]]
    area = props["area"].astype(float)
    perimeter = props["perimeter_crofton"]
    major, minor = props["axis_major_length"], props["axis_minor_length"]
    with np.errstate(divide="ignore", invalid="ignore"):
        circularity = np.clip(4 * np.pi * area / perimeter**2, 0, 1)
        aspect = np.where(minor > 0, major / minor, np.nan)
    # regionprops gives the angle from the row axis to the major axis in (row, col)
    # coordinates; on screen (rows run down) that is 90 degrees less than the angle
    # anticlockwise from the horizontal.
    orientation = np.degrees(props["orientation"]) + 90.0
    orientation = np.where(orientation > 90, orientation - 180, orientation)

    table: GrainTable = {
        "label": props["label"].astype(np.int64),
        "area_px": props["area"].astype(np.int64),
        "equivalent_diameter_px": props["equivalent_diameter_area"],
        "perimeter_px": perimeter,
        "circularity": circularity,
        "aspect_ratio": aspect,
        "major_axis_px": major,
        "minor_axis_px": minor,
        "orientation_deg": orientation,
        "centroid_y_px": props["centroid-0"],
        "centroid_x_px": props["centroid-1"],
        "touches_border": touches_border,
    }
    if pixel_size is not None:
        add_units(table, pixel_size)
    return table


def _ellipses(labels: np.ndarray, ids: np.ndarray) -> dict[str, np.ndarray]:
    """Centroid, axis lengths and orientation of every grain, as regionprops defines them
    (second central moments), for all grains at once: 8x faster than per-region
    regionprops on 8500 grains, and equal to it within 1e-12. Sums run over bands of
    rows, so memory stays small on large images."""
    labels = np.asarray(labels)
    n = int(labels.max()) + 1
    h, w = labels.shape
    band = max(1, 1_000_000 // w)

    def sums(*weights):
        """Per-grain sums of weights(rows, cols, ids) over the image, band by band (ids
        made int64 a band at a time, not for the whole image)."""
        total = np.zeros((len(weights), n))
        for y in range(0, h, band):
            ids = labels[y:y + band].ravel().astype(np.int64)
            rows, cols = np.divmod(np.arange(ids.size, dtype=np.float64), w)
            rows += y
            for k, weight in enumerate(weights):
                total[k] += np.bincount(ids, weight(rows, cols, ids), n)
        return total

    count = np.maximum(pixel_counts(labels), 1)
    centre_r, centre_c = sums(lambda r, c, i: r, lambda r, c, i: c) / count
    # regionprops' inertia tensor [[a, b], [b, c]]
    a, b, c = sums(lambda r, co, i: (co - centre_c[i]) ** 2,
                   lambda r, co, i: -(r - centre_r[i]) * (co - centre_c[i]),
                   lambda r, co, i: (r - centre_r[i]) ** 2) / count
    half_gap = np.sqrt((a - c) ** 2 / 4 + b * b)
    major = np.maximum((a + c) / 2 + half_gap, 0)
    minor = np.maximum((a + c) / 2 - half_gap, 0)
    with np.errstate(invalid="ignore"):
        orientation = np.where(a == c, np.where(b < 0, np.pi / 4, -np.pi / 4),
                               0.5 * np.arctan2(-2 * b, c - a))
    ids = np.asarray(ids, np.int64)
    return {"axis_major_length": 4 * np.sqrt(major[ids]),
            "axis_minor_length": 4 * np.sqrt(minor[ids]),
            "orientation": orientation[ids],
            "centroid-0": centre_r[ids], "centroid-1": centre_c[ids]}


def add_units(table: GrainTable, pixel_size: PixelSize) -> GrainTable:
    """Add physical-unit columns beside each *_px column (area in unit^2)."""
    s, u = pixel_size.value, pixel_size.unit
    for name in [n for n in table if n.endswith("_px")]:
        base = name[:-3]
        if base == "area":
            table[f"area_{u}2"] = table[name] * s * s
        else:
            table[f"{base}_{u}"] = table[name] * s
    return order_columns(table)


def order_columns(table: GrainTable) -> GrainTable:
    """Put each unit column right after its px column (in place, returns the table)."""
    names = list(table)
    ordered = []
    for name in names:
        if name in ordered:
            continue
        ordered.append(name)
        if name.endswith("_px"):
            base = name[:-3]
            ordered += [n for n in names if n.startswith(base + "_") and n != name
                        and not n.endswith("_px") and n not in ordered]
    items = [(n, table.pop(n)) for n in ordered]
    table.update(items)
    return table


def lineal_intercepts(labels: np.ndarray, angles=(0, 45, 90, 135), max_lines: int = 512
                      ) -> dict[int, tuple[float, int]]:
    """Test lines across the image in several directions (ASTM E112 intercept method).

    Returns, per angle in degrees (anticlockwise from horizontal), the total line length
    in px (a line across n pixels is n px long, n*sqrt(2) on a diagonal) and the number of
    grain-boundary crossings on it: changes of grain id along the line. Boundary pixels
    (id 0) first go to their nearest grain, so that a line running inside a thick boundary
    line is not counted as grain without crossings. At most ``max_lines`` evenly spaced
    lines per direction. A digital line through a junction counts one crossing where a
    continuous one might count two, so on a perfect square grid the 45-degree intercept
    comes out ~6 % long; such coincidences are rare in real microstructures.
    """
    labels = fill_unlabelled(check_labels(labels))
    h, w = labels.shape
    result = {}
    for angle in angles:
        if angle % 180 == 0:
            lines, step = _every(list(labels), max_lines), 1.0
        elif angle % 180 == 90:
            lines, step = _every(list(labels.T), max_lines), 1.0
        elif angle % 180 == 45:  # up and to the right on screen: the anti-diagonals
            flipped = labels[::-1]
            lines = _every([flipped.diagonal(k) for k in range(-(h - 1), w)], max_lines)
            step = math.sqrt(2)
        elif angle % 180 == 135:
            lines = _every([labels.diagonal(k) for k in range(-(h - 1), w)], max_lines)
            step = math.sqrt(2)
        else:
            raise ValueError(f"intercept lines run at multiples of 45 degrees, not {angle}")
        crossings = 0
        length = 0.0
        for line in lines:
            ids = line[line > 0]  # only an image without any grain has zeros left
            crossings += int(np.count_nonzero(ids[1:] != ids[:-1]))
            length += len(line) * step
        result[int(angle)] = (length, crossings)
    return result


def _every(lines: list, most: int) -> list:
    stride = max(1, math.ceil(len(lines) / most))
    return lines[stride // 2::stride]


def astm_g_planimetric(grains_per_mm2: float) -> float:
    """ASTM E112 grain size number from grains per mm^2 at 1x: G = 3.321928 log10(N_A) - 2.954."""
    return 3.321928 * math.log10(grains_per_mm2) - 2.954 if grains_per_mm2 > 0 else math.nan


def astm_g_intercept(mean_intercept_mm: float) -> float:
    """ASTM E112 grain size number from the mean lineal intercept in mm:
    G = -6.643856 log10(l) - 3.288."""
    return -6.643856 * math.log10(mean_intercept_mm) - 3.288 if mean_intercept_mm > 0 \
        else math.nan


def grain_summary(labels: np.ndarray, table: GrainTable | None = None,
                  pixel_size: PixelSize | None = None, include_border: bool = False) -> dict:
    """Count, mean/median/std of area and diameter, mean circularity, ASTM E112 G.

    Border grains are left out of the means unless ``include_border``. The planimetric G
    counts every grain as ASTM E112 (Jeffries) does: grains inside the image count 1, those
    cut by its edge 1/2, those in its corners 1/4. The intercept G uses lines in four
    directions (see :func:`lineal_intercepts`). Both need a pixel size.
    """
    labels = check_labels(labels)
    if table is None:
        table = grain_table(labels, pixel_size)
    return summary_from(table, lineal_intercepts(labels), jeffries_count(labels),
                        labels.shape, pixel_size, include_border)


def summary_from(table: GrainTable, intercepts: dict, jeffries: float, shape,
                 pixel_size: PixelSize | None = None, include_border: bool = False) -> dict:
    """:func:`grain_summary` from its parts: the grain table, the intercept lines'
    {angle: (length, crossings)}, the Jeffries grain count and the image's (h, w)."""
    border = np.asarray(table["touches_border"], bool)
    used = np.ones_like(border) if include_border else ~border
    area = np.asarray(table["area_px"], float)[used]
    diameter = np.asarray(table["equivalent_diameter_px"], float)[used]

    summary = {
        "grains": int(used.sum()),
        "grains_total": len(border),
        "grains_touching_border": int(border.sum()),
        "border_grains_included": bool(include_border),
    }
    stats = {"area_px": area, "equivalent_diameter_px": diameter}
    if pixel_size is not None:
        s, u = pixel_size.value, pixel_size.unit
        stats[f"area_{u}2"] = area * s * s
        stats[f"equivalent_diameter_{u}"] = diameter * s
    for name, values in stats.items():
        summary[f"mean_{name}"] = _stat(np.mean, values)
        summary[f"median_{name}"] = _stat(np.median, values)
        summary[f"std_{name}"] = _stat(np.std, values)
    summary["mean_circularity"] = _stat(np.mean, np.asarray(table["circularity"])[used])

    total_length = sum(length for length, _ in intercepts.values())
    total_crossings = sum(n for _, n in intercepts.values())
    mean_intercept = total_length / total_crossings if total_crossings else math.nan
    summary["mean_intercept_px"] = mean_intercept
    for angle, (length, n) in intercepts.items():
        summary[f"mean_intercept_{angle}deg_px"] = length / n if n else math.nan

    if pixel_size is not None:
        u = pixel_size.unit
        summary[f"mean_intercept_{u}"] = mean_intercept * pixel_size.value
        summary["astm_g_intercept"] = astm_g_intercept(mean_intercept * pixel_size.mm)
        h, w = shape
        summary["astm_g_planimetric"] = astm_g_planimetric(
            jeffries / (h * w * pixel_size.mm**2))
    else:
        summary["astm_g_intercept"] = None
        summary["astm_g_planimetric"] = None
    return summary


def measure_chunked(labels, chunk: int, pixel_size: PixelSize | None = None
                    ) -> Job[tuple[GrainTable, dict]]:
    """Job: the grain table of a label image too large for memory (a zarr array read
    ``chunk`` px windows at a time), and the parts :func:`summary_from` needs.

    Every grain is measured once, whole, in the window of the chunk holding its top-left
    corner, extended to the grain's far edge, so the table is the one :func:`grain_table`
    gives for the whole image (rows in label order). Intercept lines are counted per
    chunk with one pixel of the next, so a boundary on a chunk edge counts once.
    """
    h, w = labels.shape
    starts = [(y, x) for y in range(0, h, chunk) for x in range(0, w, chunk)]
    total = 2 * len(starts)
    # First pass: every grain's bounding box over the whole image.
    boxes: dict[int, list[int]] = {}
    intercepts: dict[int, list[float]] = {}
    for n, (y, x) in enumerate(starts):
        window = np.asarray(labels[y:min(y + chunk + 1, h), x:min(x + chunk + 1, w)])
        core = window[:min(chunk, h - y), :min(chunk, w - x)]
        # ids of a whole image run high: number this window's 1..n for regionprops
        local, _, inverse = segmentation.relabel_sequential(core)
        props = measure.regionprops_table(local, properties=("label", "bbox"))
        props["label"] = np.asarray(inverse)[props["label"]]
        for k, y0, x0, y1, x1 in zip(props["label"], props["bbox-0"], props["bbox-1"],
                                     props["bbox-2"], props["bbox-3"]):
            box = boxes.setdefault(int(k), [h, w, 0, 0])
            box[:] = [min(box[0], y + y0), min(box[1], x + x0), max(box[2], y + y1),
                      max(box[3], x + x1)]
        if window.max() > 0:
            for angle, (length, crossings) in lineal_intercepts(window).items():
                done = intercepts.setdefault(angle, [0.0, 0])
                done[0] += length
                done[1] += crossings
        yield Progress(n + 1, total, "measuring grains: finding them")
    # Second pass: each grain whole in the window of the chunk that holds its corner.
    owner: dict[tuple[int, int], list[int]] = {}
    for k, (y0, x0, _, _) in boxes.items():
        owner.setdefault((y0 // chunk * chunk, x0 // chunk * chunk), []).append(k)
    parts = []
    for n, (y, x) in enumerate(starts):
        ids = owner.get((y, x))
        if ids:
            far_y = max(boxes[k][2] for k in ids)
            far_x = max(boxes[k][3] for k in ids)
            window = np.asarray(labels[y:far_y, x:far_x])
            window = np.where(np.isin(window, ids), window, 0)
            part = grain_table(window)
            part["centroid_y_px"] = part["centroid_y_px"] + y
            part["centroid_x_px"] = part["centroid_x_px"] + x
            edge = np.array([boxes[int(k)][0] == 0 or boxes[int(k)][1] == 0
                             or boxes[int(k)][2] == h or boxes[int(k)][3] == w
                             for k in part["label"]], bool)
            part["touches_border"] = edge
            parts.append(part)
        yield Progress(len(starts) + n + 1, total, "measuring grains")
    if parts:
        table = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
        order = np.argsort(table["label"], kind="stable")
        table = {name: column[order] for name, column in table.items()}
    else:
        table = grain_table(np.zeros((1, 1), np.uint8))
    if pixel_size is not None:
        add_units(table, pixel_size)
    corners = {int(labels[i, j]) for i in (0, h - 1) for j in (0, w - 1)} - {0}
    edge = set(np.asarray(table["label"])[np.asarray(table["touches_border"], bool)]
               .tolist()) - corners
    jeffries = len(table["label"]) - len(edge) - len(corners) + 0.5 * len(edge) \
        + 0.25 * len(corners)
    return table, {"intercepts": {a: tuple(v) for a, v in sorted(intercepts.items())},
                   "jeffries": jeffries}


def jeffries_count(labels: np.ndarray) -> float:
    """Grains in the field of view by the planimetric (Jeffries) rule of ASTM E112: grains
    inside count 1, grains cut by an edge 1/2, grains in a corner 1/4."""
    ids = np.unique(labels)
    ids = ids[ids > 0]
    corners = {int(labels[i, j]) for i in (0, -1) for j in (0, -1)} - {0}
    edge = set(border_labels(labels).tolist()) - corners
    inside = len(ids) - len(edge) - len(corners)
    return inside + 0.5 * len(edge) + 0.25 * len(corners)


def inner_diameters(tables) -> np.ndarray:
    """Equivalent diameters (px) of the grains not cut by an image edge, over grain tables.

    >>> inner_diameters([{"label": [1, 2], "equivalent_diameter_px": [4.0, 9.0],
    ...                   "touches_border": [False, True]}]).tolist()
    [4.0]
    """
    inner = [np.asarray(t["equivalent_diameter_px"], float)[
        ~np.asarray(t["touches_border"], bool)] for t in tables if len(t.get("label", []))]
    return np.concatenate(inner) if inner else np.zeros(0)


def _stat(fn, values: np.ndarray) -> float:
    return float(fn(values)) if len(values) else math.nan


def stack_tables(tables) -> GrainTable:
    """One grain table for a (frames, y, x) stack from each frame's table, in frame order.

    A ``frame`` column (0, 1, ...) comes first; label ids are kept as they are.

    >>> one = {"label": np.array([1, 2]), "area": np.array([10, 20])}
    >>> two = {"label": np.array([3]), "area": np.array([30])}
    >>> stack_tables([one, two])["frame"].tolist()
    [0, 0, 1]
    """
    tables = list(tables)
    if not tables:
        raise ValueError("no frames: a stack needs at least one grain table")
    names = list(tables[0])
    for k, table in enumerate(tables):
        if list(table) != names:
            raise ValueError(f"frame {k}'s grain table has columns {list(table)}, "
                             f"frame 0's has {names}")
    frame = [np.full(len(table["label"]), k, dtype=np.int64) for k, table in enumerate(tables)]
    return {"frame": np.concatenate(frame),
            **{name: np.concatenate([np.asarray(t[name]) for t in tables]) for name in names}}


def growth_series(label_frames, pixel_size: PixelSize | None = None,
                  include_border: bool = False) -> GrainTable:
    """Mean grain size +/- std per frame of a time series of label images (the paper's Fig. 6).

    Columns: frame, grains, mean/std of area and of equivalent diameter (px, and the
    pixel size's unit when given).
    """
    frames = np.asarray(label_frames)
    if frames.ndim != 3:
        raise ValueError(f"a grain-growth series is a (time, y, x) stack, not shape {frames.shape}")
    series: dict[str, list] = {"frame": list(range(len(frames)))}
    for labels in frames:
        table = grain_table(labels, pixel_size)
        used = np.ones(len(table["label"]), bool) if include_border else ~table["touches_border"]
        series.setdefault("grains", []).append(int(used.sum()))
        for name in [n for n in table if n.startswith(("area_", "equivalent_diameter_"))]:
            values = np.asarray(table[name], float)[used]
            series.setdefault(f"mean_{name}", []).append(_stat(np.mean, values))
            series.setdefault(f"std_{name}", []).append(_stat(np.std, values))
    return {name: np.asarray(values) for name, values in series.items()}
