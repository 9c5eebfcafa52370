"""`labourfree evaluate`: segmentation quality against ground-truth boundary masks."""

from __future__ import annotations

import math
import sys
from pathlib import Path

from ..analysis.pairing import group_by_image, load_side
from . import refuse_existing


def add_to(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="compare predicted boundaries/grains with ground truth: IoU, boundary F1, ARI, AP",
        description="Pairs prediction and truth files by name (ignoring suffixes such as "
        "_boundaries, _labels, _mask), prints a table and optionally writes JSON with "
        "per-image values and means. Predictions may be boundary masks, boundary "
        "probabilities or label images; when both <stem>_boundaries and <stem>_labels exist, "
        "the labels are used as the grain instances.",
    )
    p.add_argument("--pred", type=Path, nargs="+", required=True,
                   help="predicted masks/labels: files or folders")
    p.add_argument("--truth", type=Path, nargs="+", required=True,
                   help="ground-truth boundary masks (or label images): files or folders")
    p.add_argument("--tolerance", type=float, default=2.0,
                   help="boundary match distance in px for boundary F1 (default 2)")
    p.add_argument("--threshold", type=float, default=None,
                   help="boundary threshold for predicted probabilities (default 0.5)")
    p.add_argument("--json", type=Path, default=None, help="write the results here")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..analysis.metrics import check_tolerance, evaluate_pair, mean_over_images
    from ..io.images import list_images
    from ..io.tables import write_json

    if args.json is not None:
        refuse_existing([args.json], args.overwrite)
    check_tolerance(args.tolerance)
    pred = group_by_image(list_images(args.pred))
    truth = group_by_image(list_images(args.truth))
    keys = [k for k in pred if k in truth]
    if not keys:
        raise ValueError(f"no prediction matches a truth file by name (predictions: "
                         f"{', '.join(sorted(pred)[:5])}; truth: {', '.join(sorted(truth)[:5])})")
    unmatched = sorted(set(pred) ^ set(truth))
    if unmatched:
        print(f"skipping {len(unmatched)} image(s) without a partner: "
              f"{', '.join(unmatched[:5])}{' ...' if len(unmatched) > 5 else ''}",
              file=sys.stderr)

    per_image = {}
    for key in keys:
        pred_boundary, pred_labels = load_side(pred[key], args.threshold)
        true_boundary, true_labels = load_side(truth[key])
        try:
            per_image[key] = evaluate_pair(pred_boundary, true_boundary, pred_labels,
                                           true_labels, args.tolerance)
        except ValueError as err:
            raise ValueError(f"{key}: {err}") from err
    means = mean_over_images(list(per_image.values()))
    print_table(per_image, means)
    if args.json is not None:
        write_json(args.json, {"tolerance_px": args.tolerance, "images": len(per_image),
                               "per_image": per_image, "mean": means,
                               "files": {k: {"pred": [str(p) for p in pred[k].values()],
                                             "truth": [str(p) for p in truth[k].values()]}
                                         for k in keys}})
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


COLUMNS = (("iou", "IoU"), ("boundary_f1", "BF1"), ("ari", "ARI"), ("ap", "AP"),
           ("grains_pred", "n pred"), ("grains_true", "n true"), ("count_error", "count err"),
           ("mean_area_error", "area err"))


def print_table(per_image: dict, means: dict) -> None:
    width = max(12, *(len(k) for k in per_image))
    print(f"{'image':<{width}} " + " ".join(f"{title:>9}" for _, title in COLUMNS))
    for name, row in list(per_image.items()) + [("mean", means)]:
        print(f"{name:<{width}} " + " ".join(f"{_fmt(row.get(key)):>9}" for key, _ in COLUMNS))


def _fmt(value) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:.3f}" if isinstance(value, float) and not value.is_integer() else f"{value:g}"
