"""Where `labourfree segment` peaks in memory on one image held in memory, step by step.

    python benchmarks/memory_segment.py IMAGE [--out DIR]

Segments IMAGE as `labourfree segment IMAGE --out DIR` does (built-in default, every option
at its default) while a thread samples the resident memory every 50 ms. Prints, for each
grain step (flood, merge, fill, ...) and each call of it, the memory before and after and
the highest sample inside it, then the peak of the whole run (the kernel's high-water
mark) and the step where the highest sample fell.
An 8192 x 8192 TIFF is the size issue 16 asks about (larger TIFFs go window by window).
Linux only (reads /proc/self/status).
"""

from __future__ import annotations

import argparse
import functools
import resource
import tempfile
import threading
import time
from pathlib import Path

STEPS = ("grains_from_maps", "flood", "merge_weak_boundaries", "_remove_small",
         "fill_unlabelled", "boundaries_from_labels")


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

        @functools.wraps(function)
        def watched(*args, **kwargs):
            outer, outer_peak = self.step, self.step_peak
            self.step, before = name, resident_mb()
            self.step_peak = before
            try:
                return function(*args, **kwargs)
            finally:
                print(f"  {name:24s} before {before:6d} MB  highest {self.step_peak:6d} MB  "
                      f"after {resident_mb():6d} MB", flush=True)
                self.step, self.step_peak = outer, max(outer_peak, self.step_peak)

        setattr(owner, name, watched)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", type=Path)
    parser.add_argument("--out", type=Path, help="output folder (default: a temporary one)")
    args = parser.parse_args()

    sampler = Sampler()
    from napari_labourfree.analysis import instances
    from napari_labourfree.jobs import run_job
    from napari_labourfree.segmenter.batch import segment_files
    from napari_labourfree.segmenter.default import default_weights
    from napari_labourfree.segmenter.model import Segmenter

    for name in STEPS:
        sampler.watch(instances, name)
    model = Segmenter.load(default_weights())
    print(f"{args.image}: after loading the model {resident_mb()} MB", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        run_job(segment_files(model, [args.image], args.out or Path(scratch) / "out"))
        seconds = time.perf_counter() - start
    # the kernel's high-water mark also catches spikes shorter than the 50 ms sampling
    high_water = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"peak resident memory {high_water} MB (highest sample {sampler.peak} MB, in "
          f"{sampler.peak_step}); {seconds:.0f} s")


if __name__ == "__main__":
    main()
