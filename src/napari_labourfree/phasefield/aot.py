"""The phase-field step compiled ahead of time (AOTInductor) and kept on disk.

torch.compile caches its kernels, but every new process still imports torch._dynamo and
traces the step again (about 4 s on 2 cores), which a short `labourfree simulate` pays in
full. A package compiled once by AOTInductor is a shared library that torch's C++ loader
runs without either, so a warm start costs the torch import and the steps alone.

A package holds one shape (batch, fields, height, width): compiled with dynamic shapes the
step ran 2x (dynamic batch and fields) to 15x (all four) slower than with static ones, and
a new shape costs about 8 s to compile once. Its name holds a hash of the step's source, the
shape, the torch version and the machine's CPU, so a change to any of them compiles a new
one. The cache lives in ``$LABOURFREE_CACHE``, else ``$XDG_CACHE_HOME/napari-labourfree``,
else ``~/.cache/napari-labourfree``.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import platform
import tempfile
import threading
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

Step = Callable[[torch.Tensor, float, float], torch.Tensor]


def cache_dir() -> Path:
    if found := os.environ.get("LABOURFREE_CACHE"):
        return Path(found)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "napari-labourfree"


FORMAT = 1  # raise when the way packages are built (``build``) changes


def _cpu_signature() -> str:
    """What the compiled code depends on: the CPU model, its instruction sets, and the
    vector capability torch picks on it."""
    found = ""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        found = "\n".join([line for line in lines
                           if line.startswith(("model name", "flags", "Features"))][:2])
    except OSError:
        pass
    return "\n".join([found or platform.processor(), torch.backends.cpu.get_cpu_capability()])


def package_path(device: torch.device, step: Step, shape: tuple[int, ...],
                 dtype: torch.dtype = torch.float32) -> Path:
    from . import solver

    key = "\n".join([str(FORMAT), inspect.getsource(step), repr(solver.TAIL_CUTOFF),
                     torch.__version__, platform.machine(), device.type, _cpu_signature(),
                     repr(tuple(shape)), str(dtype)])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return cache_dir() / f"allen-cahn-{device.type}-{'x'.join(map(str, shape))}-{digest}.pt2"


class _StepModule(torch.nn.Module):
    def __init__(self, step: Step):
        super().__init__()
        self.step = step

    def forward(self, eta, dt_l, kappa):
        return self.step(eta, dt_l, kappa)


def build(step: Step, eta: torch.Tensor, path: Path) -> None:
    """Export ``step`` for tensors like ``eta``, compile it, and move the package into
    place (atomically, so that processes building at once leave one whole file)."""
    # two distinct scalar tensors: one object passed twice would be traced as one input
    dt_l, kappa = (torch.tensor(v, dtype=eta.dtype, device=eta.device) for v in (0.1, 1.0))
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.",
                                    suffix=".pt2")  # the name must end in .pt2
    os.close(handle)
    tmp = Path(name)
    try:
        with warnings.catch_warnings():  # torch's own deprecation notices, not the user's
            warnings.simplefilter("ignore", FutureWarning)
            program = torch.export.export(_StepModule(step), (eta.contiguous(), dt_l, kappa))
            torch._inductor.aoti_compile_and_package(program, package_path=str(tmp))
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the cache is the user's anyway
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def compiled_step(step: Step, fallback: Callable[[], Step]) -> Step:
    """``step``, run from compiled packages: each shape's is loaded from the cache, or
    built first when this machine has none yet. When building or loading fails, warns
    once and runs ``fallback()`` from then on."""
    loaders: dict = {}
    scalars: dict = {}
    failed: list[Step] = []
    lock = threading.Lock()

    def run(eta: torch.Tensor, dt_l: float, kappa: float) -> torch.Tensor:
        if failed:
            return failed[0](eta, dt_l, kappa)
        key = (tuple(eta.shape), eta.dtype, eta.device)
        if key not in loaders:
            try:
                with lock:
                    loaders[key] = loaders.get(key) or _loader(step, eta)
            except Exception as err:  # noqa: BLE001 (no compiler, a full disk, ...: fall back)
                warnings.warn(f"ahead-of-time compiling the phase-field step failed "
                              f"({err!s:.200}); compiling in this process instead",
                              stacklevel=2)
                failed.append(fallback())
                return failed[0](eta, dt_l, kappa)
        for value in (dt_l, kappa):
            if (value, key) not in scalars:
                scalars[value, key] = torch.tensor(value, dtype=eta.dtype, device=eta.device)
        return loaders[key].boxed_run([eta.contiguous(), scalars[dt_l, key],
                                       scalars[kappa, key]])[0]

    return run


def _loader(step: Step, eta: torch.Tensor):
    """The loaded package for ``eta``'s shape; a package that is missing, or on disk but
    unloadable (cut short by a crash, corrupt), is built (again) first."""
    path = package_path(eta.device, step, eta.shape, eta.dtype)
    index = eta.device.index if eta.device.index is not None else (
        0 if eta.device.type == "cuda" else -1)
    if path.is_file():
        try:
            return torch._C._aoti.AOTIModelPackageLoader(str(path), "model", False, 1, index)
        except Exception:  # noqa: BLE001 (any unloadable file is replaced below)
            path.unlink(missing_ok=True)
    build(step, eta, path)
    return torch._C._aoti.AOTIModelPackageLoader(str(path), "model", False, 1, index)
