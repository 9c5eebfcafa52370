"""`labourfree` command line: the same jobs as the napari widgets, with a progress bar."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from .jobs import Job, Progress, run_job


def _size(text: str) -> tuple[int, int]:
    """'512' -> (512, 512); '384x512' -> (384, 512) as height x width."""
    try:
        parts = [int(p) for p in text.lower().replace(",", "x").split("x")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"size must be N or HxW (e.g. 512 or 384x512), not {text!r}")
    return parts[0], parts[1]


def run_with_progress(job: Job, quiet: bool = False, unit: str = "step"):
    """Run a job with a tqdm bar on stderr; returns the job's result."""
    if quiet:
        return run_job(job)
    from tqdm import tqdm

    bar = tqdm(total=None, unit=unit, dynamic_ncols=True, file=sys.stderr)

    def show(event: Progress) -> None:
        if bar.total != event.total:
            bar.total = event.total
        bar.n = event.step
        bar.set_description_str(event.message[:60], refresh=False)
        bar.refresh()

    try:
        return run_job(job, show)
    finally:
        bar.close()


# ---------------------------------------------------------------------------------------
# simulate


def _add_simulate(sub) -> None:
    from .phasefield.solver import GrowthParams

    d = GrowthParams()
    p = sub.add_parser(
        "simulate",
        help="grow phase-field polycrystals: images (phi), boundary masks, grain labels",
        description="Voronoi seeds + Allen-Cahn grain growth. Writes DIR/images/*.tif (phi, "
        "float32), DIR/masks/*.tif (uint8, 255 = boundary), DIR/labels/*.tif (grain ids) and "
        "DIR/meta.json.",
    )
    p.add_argument("--count", type=int, default=10, help="number of structures (default 10)")
    p.add_argument("--size", type=_size, default=(d.height, d.width),
                   help="N or HxW pixels (default 512)")
    p.add_argument("--grains", type=int, default=d.grains, help=f"initial grains (default {d.grains})")
    p.add_argument("--steps", type=int, default=d.steps, help=f"time steps (default {d.steps})")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--out", type=Path, required=True, help="output folder (new or empty)")
    p.add_argument("--dt", type=float, default=d.dt, help=f"time step (default {d.dt})")
    p.add_argument("--mobility", type=float, default=d.mobility, help="kinetic coefficient L")
    p.add_argument("--kappa", type=float, default=d.kappa, help="gradient energy coefficient")
    p.add_argument("--regularity", type=int, default=d.regularity,
                   help=f"Lloyd iterations evening out grain areas (0 = random; default {d.regularity})")
    p.add_argument("--gap", type=int, default=d.gap,
                   help="px kept between grains sharing an order-parameter field")
    p.add_argument("--mask-threshold", type=float, default=d.mask_threshold,
                   help=f"phi below this is boundary (default {d.mask_threshold})")
    p.add_argument("--snapshot-every", type=int, default=0,
                   help="also write growth sequences, one frame every K steps")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, mps")
    p.add_argument("--batch-size", type=int, default=None,
                   help="structures grown at once (default: 1 on CPU, 16 on GPU)")
    p.add_argument("--no-compile", action="store_true",
                   help="skip torch.compile (slower, but needs no C compiler)")
    p.add_argument("--overwrite", action="store_true",
                   help="allow writing into a non-empty folder, replacing an earlier simulation")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_simulate)


def _simulate(args) -> int:
    from .devices import pick_device
    from .phasefield.dataset import simulate_dataset
    from .phasefield.solver import GrowthParams

    params = GrowthParams(
        height=args.size[0], width=args.size[1], grains=args.grains, steps=args.steps,
        dt=args.dt, mobility=args.mobility, kappa=args.kappa, regularity=args.regularity,
        gap=args.gap, mask_threshold=args.mask_threshold,
    ).validate()
    if args.snapshot_every < 0:
        raise ValueError("--snapshot-every must not be negative")
    device = pick_device(args.device)
    job = simulate_dataset(
        params, args.count, args.out, seed=args.seed, device=device,
        compile=False if args.no_compile else None, batch_size=args.batch_size,
        snapshot_every=args.snapshot_every, overwrite=args.overwrite,
    )
    print(f"labourfree simulate: {args.count} x {params.height}x{params.width} px, "
          f"{params.grains} grains, {params.steps} steps on {device}", file=sys.stderr)
    try:
        meta = run_with_progress(job, args.quiet)
    except KeyboardInterrupt:
        done = _completed(args.out)
        print(f"\ninterrupted: {done} complete structure(s) kept in {args.out}", file=sys.stderr)
        return 130
    grains = [s["grains_final"] for s in meta["structures"]]
    print(f"wrote {meta['completed']} structures to {args.out} "
          f"(grains per structure: {min(grains)}-{max(grains)})", file=sys.stderr)
    return 0


def _completed(out: Path) -> int:
    import json

    try:
        return json.loads((Path(out) / "meta.json").read_text())["completed"]
    except (OSError, ValueError, KeyError):
        return 0


# ---------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labourfree",
        description="Label-free grain segmentation: simulate, learn the look of your "
        "micrographs, segment and measure grains.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_simulate(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, NotADirectoryError, PermissionError) as err:
        print(f"labourfree {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # full disk and friends: say what, not a traceback
        print(f"labourfree {args.command}: error: {err.strerror or err} "
              f"({getattr(err, 'filename', '') or ''})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\nlabourfree {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
