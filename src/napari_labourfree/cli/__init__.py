"""`labourfree` command line: the same jobs as the napari widgets, with a progress bar."""

from __future__ import annotations

import argparse
import contextlib
import signal
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
    """Run a job with a tqdm bar on stderr; returns the job's result.

    The first Ctrl-C lets the current step finish, then closes the job (jobs that train
    save a checkpoint when closed) and raises KeyboardInterrupt; a second one stops at once.
    """
    stop = _GracefulInterrupt()
    bar = None
    if not quiet:
        from tqdm import tqdm

        bar = tqdm(total=None, unit=unit, dynamic_ncols=True, file=sys.stderr)

    def show(event: Progress) -> None:
        if bar is not None:
            if bar.total != event.total:
                bar.total = event.total
            bar.n = event.step
            text = event.message
            if event.losses:
                text += " " + " ".join(f"{k} {v:.3g}" for k, v in event.losses.items())
            bar.set_description_str(text[:90], refresh=False)
            bar.refresh()
        if stop.requested:
            job.close()
            raise KeyboardInterrupt

    try:
        with stop:
            return run_job(job, show)
    finally:
        if bar is not None:
            bar.close()


class _GracefulInterrupt:
    """SIGINT handler that only records the first Ctrl-C (main thread only)."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def _handle(self, signum, frame):
        self.requested = True
        print("\nstopping after this step (Ctrl-C again to stop now)", file=sys.stderr)
        signal.signal(signal.SIGINT, self._previous)

    def __enter__(self):
        import threading

        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        return False


def add_cluster_options(parser, what: str) -> None:
    """--workers / --scheduler: run the per-item work on dask.distributed."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--workers", type=_workers,
                       help=f"do the {what} on a local dask cluster of N worker processes "
                            "(default: in this process)")
    group.add_argument("--scheduler", metavar="ADDRESS",
                       help=f"do the {what} on an existing dask cluster, e.g. "
                            "tcp://10.0.0.5:8786 (see docs/cluster.md)")


def _workers(text: str) -> int:
    from ..scaleout.cluster import check_workers

    try:
        return check_workers(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--workers must be a whole number of at least 1, not {text!r}") from None


@contextlib.contextmanager
def cluster_from(args):
    """A dask client for --workers/--scheduler, or None for the in-process run."""
    if getattr(args, "workers", None) is None and not getattr(args, "scheduler", None):
        yield None
        return
    from ..scaleout.cluster import open_client

    with open_client(args.workers, args.scheduler) as client:
        yield client


def describe_cluster(client) -> str:
    workers = client.scheduler_info().get("workers", {})
    return f"{len(workers)} dask worker(s) at {client.scheduler.address}"


def user_pixel_size(args):
    """``--pixel-size``/``--unit`` as a checked PixelSize, or None when not given (0 is an
    error, not 'not given')."""
    from ..units import PixelSize

    return None if args.pixel_size is None else PixelSize(args.pixel_size, args.unit, "user")


def report_failures(command: str, failures, total: int, what: str = "input(s)") -> int:
    """Name each file a batch could not do; the exit status: 1 when any failed, else 0."""
    for name, message in failures:
        print(f"labourfree {command}: error: {name}: {message}", file=sys.stderr)
    if failures:
        print(f"labourfree {command}: {len(failures)} of {total} {what} failed",
              file=sys.stderr)
    return 1 if failures else 0


def refuse_existing(paths, overwrite: bool) -> None:
    """Raise FileExistsError naming the outputs that exist, unless ``overwrite``."""
    existing = [str(p) for p in paths if Path(p).exists()]
    if existing and not overwrite:
        shown = ", ".join(existing[:3]) + (f" and {len(existing) - 3} more"
                                           if len(existing) > 3 else "")
        raise FileExistsError(f"would overwrite {shown}; use --overwrite to replace")


def describe_os_error(err: OSError) -> str:
    """One line: what went wrong and with which file (never an empty '()')."""
    import errno

    if err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        what = "the disk is full (or over quota)"
    else:
        what = err.strerror or str(err) or type(err).__name__
    return f"{what}: {err.filename}" if err.filename else what


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labourfree",
        description="Label-free grain segmentation: simulate, learn the look of your "
        "micrographs, segment and measure grains.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from . import (
        evaluate,
        grains,
        pipeline,
        segment,
        simulate,
        synthesize,
        train_segmenter,
        train_style,
    )

    for command in (simulate, train_style, synthesize, train_segmenter, segment, grains,
                    evaluate, pipeline):
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
            PermissionError, IsADirectoryError, ConnectionError) as err:
        message = str(err)
        if "allow overwriting" in message and hasattr(args, "overwrite"):
            message += " (--overwrite)"  # the core names the option, the CLI its flag
        print(f"labourfree {args.command}: error: {message}", file=sys.stderr)
        return 2
    except OSError as err:  # full disk and friends: say what, not a traceback
        print(f"labourfree {args.command}: error: {describe_os_error(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"\nlabourfree {args.command}: interrupted", file=sys.stderr)
        return 130


def console() -> int:
    """The ``labourfree`` command: :func:`main`, then a quicker exit.

    At exit Python's collector walks every object still alive, and torch makes so many
    that the walk took 0.35 s of a 3.7 s one-structure ``labourfree simulate`` (issue 16).
    By now the command has closed everything it wrote, so they are moved out of the
    collector's sight instead (``gc.freeze``). Not for ``main`` itself: tests and other
    callers go on running in the same process.
    """
    import gc

    code = main()
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(console())
