"""Weights as safetensors, with the architecture and training recipe in its JSON header.

One file per model: tensors (network weights and, for resuming, optimizer state) plus
a ``labourfree`` header entry holding JSON: kind ("style" or "segmenter"), architecture
config, input normalisation, training summary, provenance and versions. Writes are atomic.
Loading never unpickles anything: safetensors holds only raw tensors.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .io.atomic import atomic_write

FORMAT = "napari-labourfree"
VERSION = 1
STYLE, SEGMENTER = "style", "segmenter"  # the two kinds of weights file
KIND_NAMES = {STYLE: "style (CycleGAN)", SEGMENTER: "segmenter (U-Net)"}


class CheckpointError(ValueError):
    """A weights file that cannot be used: missing, damaged, foreign or of the wrong kind."""


def save(path: Path | str, kind: str, config: dict, modules: dict[str, torch.nn.Module],
         optimizers: dict[str, torch.optim.Optimizer] | None = None) -> Path:
    """Write modules (and optimizers) + config to ``path`` atomically; returns the path."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        for key, value in module.state_dict().items():
            tensors[f"{name}.{key}"] = value.detach().to("cpu").contiguous()
    optim_meta = {}
    for name, optimizer in (optimizers or {}).items():
        optim_meta[name] = _flatten_optimizer(optimizer, f"optim.{name}", tensors)
    header = {"format": FORMAT, "version": VERSION, "kind": kind, "config": config,
              "modules": list(modules), "optimizers": optim_meta}
    metadata = {"labourfree": json.dumps(header)}
    path = Path(path)
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))
    return path


def read_header(path: Path | str) -> dict:
    """The JSON header of a checkpoint, after checking it is one of ours."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such weights file: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
    except Exception as err:  # safetensors raises its own error types for damaged files
        raise CheckpointError(f"{path.name} is not a safetensors file or is damaged ({err})") \
            from err
    try:
        header = json.loads(metadata["labourfree"])
    except (KeyError, ValueError) as err:
        raise CheckpointError(f"{path.name} is a safetensors file but not napari-labourfree "
                              "weights (no labourfree header)") from err
    if not isinstance(header, dict):
        raise CheckpointError(f"{path.name}: the labourfree header is a "
                              f"{type(header).__name__}, not a dict")
    if header.get("format") != FORMAT:
        raise CheckpointError(f"{path.name}: unknown weights format {header.get('format')!r}")
    if isinstance(header.get("version"), bool) or not isinstance(header.get("version"), int):
        raise CheckpointError(f"{path.name}: the weights format version must be a whole "
                              f"number, not {header.get('version')!r}")
    if header["version"] > VERSION:
        raise CheckpointError(f"{path.name} was written by a newer napari-labourfree "
                              f"(format {header['version']}); please upgrade")
    return header


def load(path: Path | str, kind: str) -> tuple[dict, dict[str, torch.Tensor]]:
    """(header, tensors) of a checkpoint of ``kind``; CheckpointError otherwise."""
    from safetensors.torch import load_file

    header = read_header(path)
    if header.get("kind") != kind:
        found = KIND_NAMES.get(header.get("kind"), repr(header.get("kind")))
        raise CheckpointError(f"{Path(path).name} holds {found} weights, not "
                              f"{KIND_NAMES[kind]} weights")
    check_header(header, kind, Path(path).name)
    try:
        tensors = load_file(str(path))
    except Exception as err:
        raise CheckpointError(f"{Path(path).name} is damaged ({err})") from err
    bad = [name for name, t in tensors.items()
           if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        raise CheckpointError(f"{Path(path).name} holds NaN or infinite values ({bad[0]}"
                              f"{' and more' if len(bad) > 1 else ''}): its training diverged; "
                              "use an earlier weights file or train again with a lower "
                              "learning rate")
    return header, tensors


# What each kind's config must hold: architecture names, key -> (type, low, high)
_ARCHITECTURES = {
    SEGMENTER: (("unet",), {"depth": (int, 1, 8), "base": (int, 1, 1024),
                            "channels": (int, 1, 4)}),
    STYLE: (("cyclegan-resnet", "cut-resnet"), {"ngf": (int, 1, 1024),
                                                "n_blocks": (int, 0, 64),
                                                "channels": (int, 1, 4)}),
}


def check_header(header: dict, kind: str, name: str = "weights") -> dict:
    """The header's config has the shape its kind needs (architecture, normalisation,
    threshold), or CheckpointError naming the first field that is wrong."""
    from .normalise import check_recipe

    def fail(what: str):
        raise CheckpointError(f"{name}: {what} in the weights header")

    config = header.get("config")
    if not isinstance(config, dict):
        fail(f"config must be a dict, not {type(config).__name__}")
    arch = config.get("architecture")
    if not isinstance(arch, dict):
        fail("architecture is missing or not a dict")
    arch_names, fields = _ARCHITECTURES[kind]
    if arch.get("name") not in arch_names:
        fail(f"unknown {kind} architecture {arch.get('name')!r}")
    for key, (kind_of, low, high) in fields.items():
        value = arch.get(key)
        if isinstance(value, bool) or not isinstance(value, kind_of) \
                or not low <= value <= high:
            fail(f"architecture {key!r} must be a whole number from {low} to {high}, "
                 f"not {value!r}")
    try:
        check_recipe(config.get("normalisation"))
    except ValueError as err:
        fail(str(err))
    threshold = config.get("threshold", 0.5)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) \
            or not 0 < threshold < 1:
        fail(f"threshold must be a number between 0 and 1, not {threshold!r}")
    return header


def restore(tensors: dict[str, torch.Tensor], modules: dict[str, torch.nn.Module],
            path_name: str = "weights") -> None:
    """Load each module's tensors (strict); a mismatch is a CheckpointError."""
    for name, module in modules.items():
        prefix = f"{name}."
        state = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        try:
            module.load_state_dict(state, strict=True)
        except RuntimeError as err:
            first = str(err).splitlines()[0] if str(err) else "shape mismatch"
            raise CheckpointError(f"{path_name}: the '{name}' weights do not fit the "
                                  f"architecture in its config ({first})") from err


def restore_optimizers(header: dict, tensors: dict[str, torch.Tensor],
                       optimizers: dict[str, torch.optim.Optimizer]) -> None:
    for name, optimizer in optimizers.items():
        meta = header.get("optimizers", {}).get(name)
        if meta is None:
            raise CheckpointError(f"no optimizer state for '{name}' in the weights file; "
                                  "it cannot be resumed")
        optimizer.load_state_dict(_unflatten_optimizer(meta, f"optim.{name}", tensors))


def _flatten_optimizer(optimizer, prefix: str, tensors: dict) -> dict:
    state = optimizer.state_dict()
    meta = {"param_groups": state["param_groups"], "state": {}}
    for index, entries in state["state"].items():
        meta["state"][str(index)] = {}
        for key, value in entries.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}.{index}.{key}"] = value.detach().to("cpu").contiguous()
                meta["state"][str(index)][key] = "tensor"
            else:
                meta["state"][str(index)][key] = value
    return meta


def _unflatten_optimizer(meta: dict, prefix: str, tensors: dict) -> dict:
    state = {}
    for index, entries in meta["state"].items():
        state[int(index)] = {key: tensors[f"{prefix}.{index}.{key}"] if value == "tensor"
                             else value for key, value in entries.items()}
    return {"state": state, "param_groups": meta["param_groups"]}
