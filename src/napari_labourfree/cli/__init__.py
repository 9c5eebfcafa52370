"""`labourfree` command line: the same jobs as the napari widgets, with a progress bar."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import __version__
from ..jobs import Job, Progress, run_job


def size_arg(text: str) -> tuple[int, int]:
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


def refuse_existing(paths, overwrite: bool) -> None:
    """Raise FileExistsError naming the outputs that exist, unless ``overwrite``."""
    existing = [str(p) for p in paths if Path(p).exists()]
    if existing and not overwrite:
        shown = ", ".join(existing[:3]) + (f" and {len(existing) - 3} more"
                                           if len(existing) > 3 else "")
        raise FileExistsError(f"would overwrite {shown}; use --overwrite to replace")


def software_versions() -> dict[str, str]:
    """Versions of the libraries whose algorithms shape the numbers we write."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in ("numpy", "scipy", "scikit-image", "torch"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            pass
    return versions


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labourfree",
        description="Label-free grain segmentation: simulate, learn the look of your "
        "micrographs, segment and measure grains.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from . import evaluate, grains, simulate

    for command in (simulate, grains, evaluate):
        command.add_to(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError,
            PermissionError) as err:
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
