"""`labourfree grains`: grain tables (CSV) and summaries (JSON) from masks or label images."""

from __future__ import annotations

import errno
import sys
from pathlib import Path

from . import refuse_existing, report_failures, user_pixel_size


def add_to(sub) -> None:
    p = sub.add_parser(
        "grains",
        help="measure grains in boundary masks or label images -> CSV + JSON summary",
        description="For each input (a boundary mask, a boundary probability or a label "
        "image made anywhere) write a per-grain CSV (area, equivalent diameter, perimeter, "
        "circularity, aspect ratio, orientation, centroid, border flag) and a JSON summary "
        "(count, mean/median/std, ASTM E112 G). The pixel size comes from the file's "
        "metadata (ImageJ, OME, FEI, Zeiss) unless --pixel-size is given.",
    )
    p.add_argument("inputs", nargs="+", type=Path, metavar="MASK_OR_LABELS",
                   help="image files or folders of them")
    p.add_argument("--out", type=Path, required=True,
                   help="a .csv file (one input) or a folder for <stem>_grains.csv files")
    p.add_argument("--input", choices=("auto", "mask", "labels", "probability"), default="auto",
                   help="what the inputs hold (default: guess from their values)")
    p.add_argument("--threshold", type=float, default=None,
                   help="boundary above this value (default: half the maximum; 0.5 for a "
                        "probability)")
    p.add_argument("--pixel-size", type=float, default=None,
                   help="pixel side length, overriding the file's metadata")
    p.add_argument("--unit", default="um", help="unit of --pixel-size: nm, um, mm (default um)")
    p.add_argument("--min-area", type=int, default=0, help="drop grains smaller than this (px)")
    p.add_argument("--close-gaps", type=float, default=0.0,
                   help="split grains joined through boundary gaps (h-maxima height, px)")
    p.add_argument("--fill-boundaries", action="store_true",
                   help="give boundary pixels to the nearest grain")
    p.add_argument("--include-border", action="store_true",
                   help="count grains touching the image edge in the summary statistics")
    p.add_argument("--series", action="store_true",
                   help="inputs are (time, y, x) stacks, e.g. `simulate --snapshot-every` "
                        "labels: write mean grain size +/- std per frame (<stem>_growth.csv)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.set_defaults(func=run)


def output_paths(inputs: list[Path], out: Path, series: bool = False
                 ) -> list[tuple[Path, Path]]:
    """(csv, summary json) for each input."""
    from ..io.folders import check_unique_stems

    kind = "growth" if series else "grains"
    if out.suffix.lower() == ".csv":
        if len(inputs) != 1:
            raise ValueError(f"--out {out} is one CSV file but {len(inputs)} inputs were given; "
                             "give a folder instead")
        return [(out, out.with_name(out.stem + "_summary.json"))]
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--out {out} exists and is not a folder")
    stems = check_unique_stems(inputs)
    return [(out / f"{s}_{kind}.csv", out / f"{s}_{kind}_summary.json") for s in stems]


def run(args) -> int:
    from ..io.folders import FolderLock, check_apart, check_not_overwriting
    from ..io.images import list_images

    folder = args.out.parent if args.out.suffix.lower() == ".csv" else args.out
    if args.out.suffix.lower() != ".csv":
        check_apart(folder, args.inputs, "--out")
    inputs = list_images(args.inputs)
    outputs = output_paths(inputs, args.out, args.series)
    check_not_overwriting([p for pair in outputs for p in pair], inputs)
    refuse_existing([p for pair in outputs for p in pair], args.overwrite)
    user_size = user_pixel_size(args)
    options = {"min_area": args.min_area, "close_gaps": args.close_gaps,
               "fill_boundaries": args.fill_boundaries}
    with FolderLock(folder, "grains"):
        rows, failures = _measure_all(args, inputs, outputs, user_size, options)
    if rows:
        _print_table(rows)
    done = len(outputs) - len(failures)
    print(f"wrote {done} {'growth' if args.series else 'grain'} table(s) to {args.out}",
          file=sys.stderr)
    return report_failures("grains", failures, len(inputs))


def _measure_all(args, inputs, outputs, user_size, options):
    """Each input in turn; one that cannot be read or measured is named and skipped."""
    rows, failures = [], []
    for path, paths in zip(inputs, outputs):
        try:
            row = _measure_one(args, path, paths, user_size, options)
        except (ValueError, OSError) as err:
            if isinstance(err, OSError) and err.errno == errno.ENOSPC:
                raise
            failures.append((path.name, str(err)))
            continue
        if row:
            rows.append(row)
    return rows, failures


def _measure_one(args, path, paths, user_size, options):
    from ..analysis.instances import grains_from_image
    from ..analysis.statistics import grain_summary, grain_table
    from ..io.atomic import all_or_none
    from ..io.images import read_image
    from ..io.tables import write_csv, write_json

    csv_path, json_path = paths
    loaded = read_image(path, grey=False, allow_stack=True)
    pixel_size = user_size or loaded.pixel_size
    if user_size and loaded.pixel_size and user_size != loaded.pixel_size:
        print(f"{path.name}: using --pixel-size {user_size}, not the file's "
              f"{loaded.pixel_size} ({loaded.pixel_size.source})", file=sys.stderr)
    if args.series:
        with all_or_none(paths):
            _write_series(loaded, pixel_size, args, options, csv_path, json_path)
        return None
    if loaded.data.ndim == 3:
        raise ValueError(f"a stack of {loaded.data.shape[0]} frames; use --series for a "
                         "grain-growth table, or give 2-D images")
    labels, kind = grains_from_image(loaded.data, args.input, threshold=args.threshold,
                                     **options)
    table = grain_table(labels, pixel_size)
    summary = grain_summary(labels, table, pixel_size, args.include_border)
    with all_or_none(paths):
        write_csv(csv_path, table)
        write_json(json_path, {**provenance(loaded, pixel_size, args, options),
                               "input_kind": kind, "shape": list(labels.shape),
                               "summary": summary, "grain_table": csv_path.name})
    return path.name, kind, summary, pixel_size


def provenance(loaded, pixel_size, args, options) -> dict:
    """What a summary JSON records about where its numbers came from."""
    from ..provenance import versions

    return {
        "image": loaded.path.name, "input": str(loaded.path),
        "pixel_size": None if pixel_size is None else pixel_size.as_dict(),
        "parameters": {"input": args.input, "threshold": args.threshold, **options,
                       "include_border": args.include_border},
        "software": versions(),
    }


def _write_series(loaded, pixel_size, args, options, csv_path, json_path) -> None:
    import numpy as np

    from ..analysis.instances import grains_from_image
    from ..analysis.statistics import growth_series
    from ..io.tables import write_csv, write_json

    frames = loaded.data if loaded.data.ndim == 3 else loaded.data[None]
    labels = np.stack([grains_from_image(frame, args.input, threshold=args.threshold,
                                         **options)[0] for frame in frames])
    series = growth_series(labels, pixel_size, args.include_border)
    steps = loaded.metadata.get("steps")  # written by `labourfree simulate --snapshot-every`
    if isinstance(steps, list) and len(steps) == len(frames):
        series = {"frame": series.pop("frame"), "step": np.asarray(steps), **series}
    write_csv(csv_path, series)
    write_json(json_path, {**provenance(loaded, pixel_size, args, options),
                           "frames": len(frames), "growth_table": csv_path.name})
    first, last = series["mean_area_px"][0], series["mean_area_px"][-1]
    print(f"{loaded.path.name}: {len(frames)} frames, grains {series['grains'][0]} -> "
          f"{series['grains'][-1]}, mean area {first:.4g} -> {last:.4g} px")


def _print_table(rows) -> None:
    print(f"{'image':<28} {'input':<11} {'grains':>6} {'border':>6} {'mean ECD':>14} "
          f"{'mean area':>16} {'G (plan.)':>9} {'G (int.)':>8}")
    for name, kind, s, size in rows:
        u = size.unit if size else "px"
        ecd = s.get(f"mean_equivalent_diameter_{u}", s["mean_equivalent_diameter_px"])
        area = s.get(f"mean_area_{u}2", s["mean_area_px"])
        g_plan, g_int = s["astm_g_planimetric"], s["astm_g_intercept"]
        print(f"{name[:28]:<28} {kind:<11} {s['grains']:>6} {s['grains_touching_border']:>6} "
              f"{ecd:>10.4g} {u:<3} {area:>10.4g} {u + ('2' if size else ''):<5} "
              f"{'-' if g_plan is None else f'{g_plan:.2f}':>9} "
              f"{'-' if g_int is None else f'{g_int:.2f}':>8}")
