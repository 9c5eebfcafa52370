"""Segmentation quality against a ground truth: pixel IoU, boundary F1, ARI, AP, counts.

Boundary masks are boolean (True = boundary). Grain instances are label images (0 = none).
For the instance measures (ARI, AP, counts, areas) both sides are first made to tile the
image (every boundary pixel goes to its nearest grain), so that what is compared is the
partition into grains, not the width of the drawn boundary lines: hand labels are often
2-20 px thick, predictions 1-3 px.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage as ndi
from scipy.stats import ks_2samp
from skimage import morphology

from .instances import border_labels, fill_unlabelled, grains_from_boundaries

AP_THRESHOLDS = tuple(np.round(np.arange(0.5, 0.951, 0.05), 2))
MAIN_KEYS = ("iou", "boundary_f1", "ari", "ap", "count_error")


def pixel_iou(pred_boundary: np.ndarray, true_boundary: np.ndarray) -> dict[str, float]:
    """IoU of the grain-interior class, of the boundary class, and their mean."""
    pred, true = _bool2d(pred_boundary), _bool2d(true_boundary)
    _same_shape(pred, true)
    interior = _iou(~pred, ~true)
    boundary = _iou(pred, true)
    return {"iou": interior, "boundary_iou": boundary, "mean_iou": (interior + boundary) / 2}


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return float(np.count_nonzero(a & b) / union) if union else 1.0


def boundary_f1(pred_boundary: np.ndarray, true_boundary: np.ndarray, tolerance: float = 2.0
                ) -> dict[str, float]:
    """Precision, recall and F1 of boundary pixels matched within ``tolerance`` px.

    Both masks are thinned to 1-px lines first, so thick lines do not count many times.
    Precision: the share of predicted line pixels within ``tolerance`` of a true line;
    recall: the share of true line pixels within ``tolerance`` of a predicted one.
    """
    tolerance = check_tolerance(tolerance)
    pred, true = _bool2d(pred_boundary), _bool2d(true_boundary)
    _same_shape(pred, true)
    pred_line, true_line = morphology.thin(pred), morphology.thin(true)
    n_pred, n_true = np.count_nonzero(pred_line), np.count_nonzero(true_line)
    if n_pred == 0 and n_true == 0:
        return {"boundary_precision": 1.0, "boundary_recall": 1.0, "boundary_f1": 1.0}
    if n_pred == 0 or n_true == 0:
        return {"boundary_precision": float(n_pred == 0), "boundary_recall": float(n_true == 0),
                "boundary_f1": 0.0}
    to_true = ndi.distance_transform_edt(~true_line)
    to_pred = ndi.distance_transform_edt(~pred_line)
    precision = float(np.mean(to_true[pred_line] <= tolerance))
    recall = float(np.mean(to_pred[true_line] <= tolerance))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"boundary_precision": precision, "boundary_recall": recall, "boundary_f1": f1}


def adjusted_rand_index(pred_labels: np.ndarray, true_labels: np.ndarray,
                        true_boundary: np.ndarray | None = None) -> float:
    """ARI between the predicted and true grain partitions, over the true grain pixels.

    Predicted boundary pixels are first given to the nearest predicted grain; the pixels
    the truth marks as boundary (``true_boundary``, default: label 0) are left out.
    """
    from sklearn.metrics import adjusted_rand_score

    pred, true = np.asarray(pred_labels), np.asarray(true_labels)
    _same_shape(pred, true)
    keep = true > 0 if true_boundary is None else ~_bool2d(true_boundary) & (true > 0)
    if not keep.any():
        return math.nan
    return float(adjusted_rand_score(true[keep], fill_unlabelled(pred)[keep]))


def matched_iou(pred_labels: np.ndarray, true_labels: np.ndarray):
    """IoU of every overlapping (true, predicted) grain pair.

    Returns (iou, true_ids, pred_ids) of the overlapping pairs plus the number of true and
    predicted grains.
    """
    pred, true = np.asarray(pred_labels, np.int64), np.asarray(true_labels, np.int64)
    _same_shape(pred, true)
    true_ids, true_idx = np.unique(true, return_inverse=True)
    pred_ids, pred_idx = np.unique(pred, return_inverse=True)
    true_area = np.bincount(true_idx.ravel())
    pred_area = np.bincount(pred_idx.ravel())
    pairs = true_idx.ravel() * len(pred_ids) + pred_idx.ravel()
    codes, overlap = np.unique(pairs, return_counts=True)
    ti, pi = np.divmod(codes, len(pred_ids))
    real = (true_ids[ti] > 0) & (pred_ids[pi] > 0)
    ti, pi, overlap = ti[real], pi[real], overlap[real]
    iou = overlap / (true_area[ti] + pred_area[pi] - overlap)
    n_true = int(np.count_nonzero(true_ids))
    n_pred = int(np.count_nonzero(pred_ids))
    return iou, true_ids[ti], pred_ids[pi], n_true, n_pred


def average_precision(pred_labels: np.ndarray, true_labels: np.ndarray,
                      thresholds=AP_THRESHOLDS) -> float:
    """Mean over IoU thresholds t of TP / (TP + FP + FN), as in Ma et al. 2020.

    A predicted grain is a true positive at t when its IoU with a true grain is above t
    (for t >= 0.5 such a match is unique).
    """
    iou, _, _, n_true, n_pred = matched_iou(pred_labels, true_labels)
    if n_true == 0 and n_pred == 0:
        return 1.0
    scores = []
    for t in thresholds:
        tp = int(np.count_nonzero(iou > t))
        scores.append(tp / (n_true + n_pred - tp))  # TP + FP + FN
    return float(np.mean(scores))


def evaluate_pair(pred_boundary: np.ndarray | None, true_boundary: np.ndarray,
                  pred_labels: np.ndarray | None = None, true_labels: np.ndarray | None = None,
                  tolerance: float = 2.0) -> dict[str, float]:
    """Every measure for one image. Instances default to the 4-connected grains between
    boundaries; give label images to use instances made another way (e.g. a watershed)."""
    check_tolerance(tolerance)
    if pred_boundary is None:
        if pred_labels is None:
            raise ValueError("give a predicted boundary mask or predicted labels")
        from .instances import boundaries_from_labels

        pred_boundary = boundaries_from_labels(pred_labels)
    pred_boundary, true_boundary = _bool2d(pred_boundary), _bool2d(true_boundary)
    _same_shape(pred_boundary, true_boundary)
    if pred_labels is None:
        pred_labels = grains_from_boundaries(pred_boundary)
    if true_labels is None:
        true_labels = grains_from_boundaries(true_boundary)
    pred_tiled, true_tiled = fill_unlabelled(pred_labels), fill_unlabelled(true_labels)

    result = pixel_iou(pred_boundary, true_boundary)
    result.update(boundary_f1(pred_boundary, true_boundary, tolerance))
    result["ari"] = adjusted_rand_index(pred_tiled, true_labels, true_boundary)
    result["ap"] = average_precision(pred_tiled, true_tiled)
    result.update(_grain_counts(pred_tiled, true_tiled))
    return result


def _grain_counts(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    n_pred, n_true = _count(pred), _count(true)
    pred_areas, true_areas = _inner_areas(pred), _inner_areas(true)
    out = {
        "grains_pred": n_pred,
        "grains_true": n_true,
        "count_error": abs(n_pred - n_true) / n_true if n_true else math.nan,
    }
    if len(pred_areas) and len(true_areas):
        out["mean_area_error"] = float(abs(pred_areas.mean() - true_areas.mean())
                                       / true_areas.mean())
        out["area_ks"] = float(ks_2samp(pred_areas, true_areas).statistic)
    else:
        out["mean_area_error"] = math.nan
        out["area_ks"] = math.nan
    return out


def _count(labels: np.ndarray) -> int:
    ids = np.unique(labels)
    return int(np.count_nonzero(ids))


def _inner_areas(labels: np.ndarray) -> np.ndarray:
    """Areas (px) of the grains that do not touch the image edge."""
    areas = np.bincount(np.asarray(labels, np.int64).ravel())
    ids = np.flatnonzero(areas)
    ids = ids[(ids > 0) & ~np.isin(ids, border_labels(labels))]
    return areas[ids].astype(float)


def mean_over_images(results: list[dict[str, float]]) -> dict[str, float]:
    """Mean of each measure over images (NaN-aware; keys absent from some images skipped)."""
    keys = [k for k in results[0] if all(k in r for r in results)] if results else []
    means = {}
    for key in keys:
        values = np.array([r[key] for r in results], float)
        means[key] = float(np.nanmean(values)) if np.isfinite(values).any() else math.nan
    return means


def _bool2d(mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"expected a 2-D mask, not shape {mask.shape}")
    if np.issubdtype(mask.dtype, np.floating) and not np.isfinite(mask).all():
        raise ValueError("a boundary mask contains NaN or infinite values")
    return mask if mask.dtype == bool else mask > 0


def check_tolerance(tolerance: float) -> float:
    """The boundary-matching distance: a finite number of px >= 0."""
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) \
            or not math.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"tolerance must be a finite number of px >= 0, not {tolerance!r}")
    return float(tolerance)


def _same_shape(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"prediction and truth differ in size: {a.shape} vs {b.shape}")
