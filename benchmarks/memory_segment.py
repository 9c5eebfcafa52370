"""Where `labourfree segment` peaks in memory on one image held in memory, step by step.

    python benchmarks/memory_segment.py IMAGE [--out DIR]

Runs `labourfree segment IMAGE --out DIR --quiet --overwrite` in this process (built-in
default, every option at its default) while a thread samples the resident memory every 50 ms. Prints, for each
step (the network's tiles, each grain step, the grain table, the files written) and
each call of it, the memory before and after, the highest sample inside it and its
seconds, then the peak of the whole run (the kernel's high-water
mark) and the step where the highest sample fell.
An 8192 x 8192 TIFF is the size issue 16 asks about (larger TIFFs go window by window).
Linux only (reads /proc/self/status).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import inspect
import resource
import tempfile
import threading
import time
from pathlib import Path

# (module, function) watched: the grain steps, the network's tiles, and what is written
STEPS = [("napari_labourfree.analysis.instances", name)
         for name in ("grains_from_maps", "flood", "merge_weak_boundaries", "_remove_small",
                      "fill_unlabelled", "boundaries_from_labels")]
STEPS += [("skimage.segmentation", "relabel_sequential"),
          ("napari_labourfree.segmenter.model", "tiled_apply"),
          ("napari_labourfree.segmenter.model", "assess"),
          ("napari_labourfree.analysis.statistics", "grain_table"),
          ("napari_labourfree.analysis.statistics", "grain_summary"),
          ("napari_labourfree.io.tiff", "write_tiff"),
          ("napari_labourfree.io.pictures", "overlay")]


def resident_mb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class Sampler:
    """The highest resident memory seen, and the step it was seen in."""

    def __init__(self) -> None:
        self.step, self.peak, self.peak_step = "reading and preparing", 0, ""
        self.step_peak = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            now = resident_mb()
            self.step_peak = max(self.step_peak, now)
            if now > self.peak:
                self.peak, self.peak_step = now, self.step
            time.sleep(0.05)

    def watch(self, owner, name: str) -> None:
        """Report every call of ``owner.name``: memory before, after and at its highest."""
        function = getattr(owner, name)

        @contextlib.contextmanager
        def inside():
            outer, outer_peak = self.step, self.step_peak
            self.step, before = name, resident_mb()
            self.step_peak, start = before, time.perf_counter()
            try:
                yield
            finally:
                print(f"  {name:24s} before {before:6d} MB  highest {self.step_peak:6d} MB  "
                      f"after {resident_mb():6d} MB  {time.perf_counter() - start:6.1f} s",
                      flush=True)
                self.step, self.step_peak = outer, max(outer_peak, self.step_peak)

        if inspect.isgeneratorfunction(function):  # a job: watched while it runs
            @functools.wraps(function)
            def watched(*args, **kwargs):
                with inside():
                    return (yield from function(*args, **kwargs))
        else:
            @functools.wraps(function)
            def watched(*args, **kwargs):
                with inside():
                    return function(*args, **kwargs)

        setattr(owner, name, watched)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", type=Path)
    parser.add_argument("--out", type=Path, help="output folder (default: a temporary one)")
    args = parser.parse_args()

    import importlib

    sampler = Sampler()
    from napari_labourfree.cli import main as labourfree

    for module, name in STEPS:
        sampler.watch(importlib.import_module(module), name)
    print(f"{args.image}: before the command {resident_mb()} MB", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        code = labourfree(["segment", str(args.image), "--out",
                           str(args.out or Path(scratch) / "out"), "--quiet", "--overwrite"])
        seconds = time.perf_counter() - start
    if code:
        raise SystemExit(f"labourfree segment failed (exit {code})")
    # the kernel's high-water mark also catches spikes shorter than the 50 ms sampling
    high_water = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"peak resident memory {high_water} MB (highest sample {sampler.peak} MB, in "
          f"{sampler.peak_step}); {seconds:.0f} s")


if __name__ == "__main__":
    main()
