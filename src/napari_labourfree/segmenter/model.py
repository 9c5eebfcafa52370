"""A trained segmenter: boundary probability, boundary mask and grains for any image."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .. import checkpoints
from ..devices import autocast, release_freed_memory
from ..jobs import Job, Progress, relay
from ..normalise import as_channels, check_image, to_network
from ..tiling import tiled_apply
from .options import SegmentOptions
from .quality import assess
from .scale import (
    ScaleChoice,
    candidate_scales,
    check_range,
    equivalent_diameter,
    pick_scale,
    resize,
    scale_for,
)
from .unet import build_unet

DEFAULT_TILE = 512
DEFAULT_OVERLAP = 64
MAX_RESCALED_PIXELS = 64_000_000  # enlarging an image of tiny grains stops here
MAX_SEARCH_PIXELS = 16_000_000  # enlarged views looked at while estimating the grain size


class NetworkInput:
    """One image's network input, made when it is needed and dropped when it is not: on a
    67 Mpx image it is 268 MB that the grain floods can do without (issue 16)."""

    def __init__(self, make, shape: tuple[int, int]):
        self._make, self.shape, self._x = make, tuple(shape), None

    @classmethod
    def held(cls, x: np.ndarray) -> NetworkInput:
        """An input that is already made (and stays held by its owner)."""
        source = cls(lambda: x, x.shape[-2:])
        source._x = x
        return source

    def get(self) -> np.ndarray:
        if self._x is None:
            self._x = self._make()
        return self._x

    def drop(self) -> None:
        self._x = None


@dataclass
class Segmentation:
    probability: np.ndarray  # float32 boundary probability in [0, 1]
    boundaries: np.ndarray   # bool, the lines between the grains (or probability > threshold)
    labels: np.ndarray       # uint32 grains (boundary pixels given to the nearest grain)
    distance: np.ndarray | None = None  # float32 distance map, when the model has one
    quality: dict = field(default_factory=dict)  # see segmenter.quality.assess
    options: SegmentOptions | None = None  # what was used (threshold filled in)


class Segmenter:
    """A U-Net in eval mode plus the normalisation and threshold it was trained with."""

    def __init__(self, net: torch.nn.Module, header: dict, device: torch.device):
        self.net, self.header, self.device = net.eval(), header, torch.device(device)

    @classmethod
    def load(cls, path: Path | str, device: torch.device | str = "cpu") -> Segmenter:
        header, tensors = checkpoints.load(path, checkpoints.SEGMENTER)
        net = build_unet(header["config"]["architecture"])
        checkpoints.restore(tensors, {"unet": net}, Path(path).name)
        grain_size = header["config"].get("grain_size")
        if grain_size is not None:
            try:
                check_range(grain_size.get("range") if isinstance(grain_size, dict) else None)
            except ValueError as err:
                raise checkpoints.CheckpointError(f"{Path(path).name}: {err}") from None
        # channels-last convolutions: 1.75x faster on a CPU, same outputs (< 1e-5)
        return cls(net.to(device, memory_format=torch.channels_last), header, device)

    @classmethod
    def from_network(cls, net: torch.nn.Module, normalisation: dict, threshold: float = 0.5,
                     device: torch.device | str = "cpu") -> Segmenter:
        """Wrap a network that is still in memory (validation during training)."""
        header = {"config": {"normalisation": normalisation, "threshold": threshold}}
        return cls(net, header, device)

    @property
    def normalisation(self) -> dict:
        return self.header["config"]["normalisation"]

    @property
    def channels(self) -> int:
        """1 for a grey model, 3 for a colour (RGB) one."""
        return getattr(self.net, "channels", 1)

    def network_input(self, image: np.ndarray) -> np.ndarray:
        """A grey or RGB image, checked, as this model takes it (see ``as_channels``)."""
        return as_channels(check_image(image, colour=True), self.channels)

    @property
    def threshold(self) -> float:
        return float(self.header["config"].get("threshold", 0.5))

    @property
    def has_distance(self) -> bool:
        return getattr(self.net, "outputs", 1) > 1

    @property
    def grain_range(self) -> tuple[float, float] | None:
        """Mean grain diameters (px) the model was trained on, when its header says."""
        found = self.header["config"].get("grain_size")
        return None if found is None else check_range(found["range"])

    def maps(self, image: np.ndarray, *, tile: int = DEFAULT_TILE,
             overlap: int = DEFAULT_OVERLAP, tta: bool = False, normalised: bool = False,
             batch_size: int | None = None, precision: str = "float32") -> Job[np.ndarray]:
        """Job: the network's outputs after a sigmoid, (C, H, W) float32, tile by tile:
        boundary probability, then the distance map when the model has one.

        ``tta``: average over the 8 flips/turns (slower, smoother). ``normalised``: the
        image is already network input in [-1, 1]. ``batch_size``: tiles per forward pass
        (default 1 on a CPU, where batching gains nothing and a progress event per tile
        lets a cancel answer within a tile; 4 on a GPU). ``precision``: see
        :class:`SegmentOptions`.
        """
        if batch_size is None:
            batch_size = 1 if self.device.type == "cpu" else 4
        x = np.asarray(image, np.float32) if normalised else to_network(
            self.network_input(image), self.normalisation)
        net, device = self.net, self.device

        channels_last = next(net.parameters()).is_contiguous(memory_format=torch.channels_last)

        # With tta each of the 8 orientations is one tiled pass: blending is linear, so the
        # mean of the passes equals the pass of the means, and a cancel is heard per tile.
        orientations = [(flip, k) for flip in (False, True) for k in range(4)] if tta \
            else [(False, 0)]
        total = None
        for n, (flip, k) in enumerate(orientations):
            def run(batch: torch.Tensor, flip=flip, k=k) -> torch.Tensor:
                b = batch.flip(-1) if flip else batch
                b = torch.rot90(b, k, (-2, -1)) if k else b
                if channels_last:
                    b = b.contiguous(memory_format=torch.channels_last)
                with autocast(device, precision):
                    p = torch.sigmoid(net(b).float())
                p = torch.rot90(p, -k, (-2, -1)) if k else p
                return p.flip(-1) if flip else p

            def count(e, n=n):
                return Progress(n * e.total + e.step, len(orientations) * e.total, e.message)

            out = yield from relay(tiled_apply(run, x, tile=tile, overlap=overlap,
                                               multiple=2**net.depth, batch_size=batch_size,
                                               device=device, message="segmenting"), count)
            if total is None:
                total = out
            else:
                total += out
        out = np.divide(total, len(orientations), out=total)
        return out[None] if out.ndim == 2 else out

    def probability(self, image: np.ndarray, **kwargs) -> Job[np.ndarray]:
        """Job: boundary probability (H, W) of a 2-D image of any size (see :meth:`maps`)."""
        out = yield from self.maps(image, **kwargs)
        return out[0]

    def segment(self, image: np.ndarray, options: SegmentOptions | None = None,
                **changes) -> Job[Segmentation]:
        """Job: maps at the right scale -> grains -> quality.

        ``options`` (default :class:`SegmentOptions`), with ``changes`` applied, say how.
        With ``grain_size='auto'`` the model looks at the image at a few scales first and
        rescales it so the grains match the sizes it was trained on. The network input is
        made from ``image`` again where it is needed once more (it is not held through the
        grain floods), so ``image`` must not change while the job runs.
        """
        options = self.resolved((options or SegmentOptions()).with_(**changes))
        image = check_image(image, colour=True)
        source = NetworkInput(lambda: to_network(self.network_input(image), self.normalisation),
                              image.shape[:2])
        run = tiling(options)
        choice, found, full_scale = yield from self._choose_scale(source, options, run)
        shape = source.shape
        choice.scale = min(choice.scale, max(1.0, math.sqrt(MAX_RESCALED_PIXELS /
                                                            (shape[0] * shape[1]))))
        maps, at_network, coarse = yield from self.maps_at(source, choice.scale, options, found)
        source.drop()
        if choice.scale == 1 and full_scale is not None and not options.tta:
            labels, boundaries, method = full_scale  # found while estimating the size
        else:
            labels, boundaries, method = self._instances(maps, options, coarse)
        small_labels = labels if at_network.shape == labels.shape else _nearest(
            labels, at_network.shape)
        quality = {"instances": method, **assess(at_network, small_labels, options.threshold,
                                                 choice, self.grain_range)}
        distance = maps[1] if len(maps) > 1 else None
        return Segmentation(maps[0], boundaries, labels, distance, quality, options)

    def resolved(self, options: SegmentOptions) -> SegmentOptions:
        """``options`` with this model's threshold and evidence filled in where not set."""
        if options.instances == "watershed" and not self.has_distance:
            raise ValueError("this model has no distance map; use instances='components'")
        options = options.with_(threshold=options.threshold or self.threshold)
        if options.min_evidence is None:
            options = options.with_(min_evidence=options.threshold / 2)
        return options

    def maps_at(self, x: np.ndarray | NetworkInput, scale: float, options: SegmentOptions,
                found: dict | None = None
                ) -> Job[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        """Job: the maps of network input ``x`` looked at with its grains ``scale`` times
        enlarged, at ``x``'s size; the boundary probability at the network's scale (where
        quality is judged: there its lines have their own width); and, at a reduced scale
        with a distance map, the reduced view's boundary probability, which the
        weak-boundary merge reads too (else None).

        ``found``: {scale: maps} computed already (without flips) while choosing the scale.
        """
        source = x if isinstance(x, NetworkInput) else NetworkInput.held(x)
        found = found or {}
        run = tiling(options)
        shape = source.shape
        coarse = None
        if scale in found and not options.tta:  # the search ran without flips
            maps = found[scale]
        else:
            maps = yield from self.maps(self._rescaled(source.get(), scale), tta=options.tta,
                                        **run)
        at_network = maps[0]
        if scale < 1 and len(maps) > 1:
            # Coarse to fine: grain cores from the reduced view, where whole grains fit the
            # network; boundary probability from full resolution, where lines are sharp.
            fine = found.get(1.0)
            if fine is None or options.tta:
                fine = yield from self.maps(source.get(), tta=options.tta, **run)
            coarse = maps[0]
            maps = np.stack([fine[0], resize(maps[1], shape)])
        if maps.shape[-2:] != shape:
            maps = np.clip(resize(maps, shape), 0, 1)
        return maps, at_network, coarse

    def _rescaled(self, x: np.ndarray, scale: float) -> np.ndarray:
        if scale == 1:
            return x
        shape = tuple(max(16, round(n * scale)) for n in x.shape[-2:])
        return resize(x, shape)

    def _choose_scale(self, x: np.ndarray | NetworkInput, options: SegmentOptions, run: dict):
        """Job: (ScaleChoice, {scale: maps already computed at that scale}, the grains
        found at full scale with ``options`` or None).

        A :class:`NetworkInput` is dropped before the full-scale grains are found (their
        flood is the peak of memory), and made again only if an enlarged view is needed.
        """
        source = x if isinstance(x, NetworkInput) else NetworkInput.held(x)
        size, grain_range = options.grain_size, self.grain_range
        if size == "off":
            return ScaleChoice(1.0, None, None, {}, "off"), {}, None
        if grain_range is None:
            return ScaleChoice(1.0, None, None, {}, "no range in model"), {}, None
        if size != "auto":
            choice = ScaleChoice(scale_for(size, grain_range), float(size), None, {}, "user")
            return choice, {}, None
        found, full_scale = {}, None
        pixels = math.prod(source.shape)

        def note(text: str):
            return lambda e: Progress(e.step, e.total, f"estimating grain size ({text})")

        def grains(s: float, maps: np.ndarray):
            nonlocal full_scale
            # specks matter less in reduced views; at full scale these are the final grains
            result = self._instances(maps, options if s == 1 else options.with_(min_area=4))
            if s == 1:
                full_scale = result
            diameter = equivalent_diameter(result[0])
            estimates[s] = None if diameter is None else diameter / s
            # kept for reuse, but a large image's reduced views are made again if needed
            # rather than held through the full-scale flood (issue 16)
            if s >= 1 or pixels <= MAX_SEARCH_PIXELS:
                found[s] = maps

        scales = candidate_scales(source.shape)
        estimates = dict.fromkeys(scales)  # reported in this order, whatever the work's
        # The reduced views first, while the input is held anyway; full scale last, once
        # the input is dropped. The estimates do not depend on the order.
        for k, s in enumerate(scales):
            if s != 1:
                maps = yield from relay(self.maps(self._rescaled(source.get(), s), **run),
                                        note(f"{k + 1}/{len(scales)}"))
                grains(s, maps)
        maps = yield from relay(self.maps(source.get(), **run), note(f"1/{len(scales)}"))
        source.drop()  # (scales[0] is always 1)
        release_freed_memory()  # the network's freed buffers, before the largest flood
        grains(1.0, maps)
        choice, s = pick_scale(estimates, grain_range, source.shape), 1.0
        # Grains too small to resolve at full scale: the network then draws its own size
        # there, and the views disagree (or find nothing). Look at enlarged views too.
        while _unsure(choice, grain_range) and s < 4 and pixels * (2 * s) ** 2 <= \
                MAX_SEARCH_PIXELS:
            s *= 2
            maps = yield from relay(self.maps(self._rescaled(source.get(), s), **run),
                                    note(f"enlarged {s:g}x"))
            source.drop()
            grains(s, maps)
            choice = pick_scale(estimates, grain_range, source.shape)
        return choice, found, full_scale

    def _instances(self, maps: np.ndarray, options: SegmentOptions,
                   coarse: np.ndarray | None = None):
        """(labels, boundaries, method used) from the maps at the image's size, and a
        reduced view's probability that the weak-boundary merge reads too.

        'auto' takes the watershed when the model has a distance map with at least one
        grain core in it, else connected components.
        """
        from ..analysis.instances import (
            boundaries_from_labels,
            grains_from_boundaries,
            grains_from_maps,
        )

        method = options.instances
        if method in ("auto", "watershed") and len(maps) > 1:
            labels = grains_from_maps(maps[0], maps[1], seed_threshold=options.seed_threshold,
                                      min_area=options.min_area,
                                      min_evidence=options.min_evidence or 0.0,
                                      coarse=coarse)
            if labels.max() > 0 or method == "watershed":
                return labels, boundaries_from_labels(labels) & (labels.max() > 0), "watershed"
        boundaries = maps[0] > options.threshold
        labels = grains_from_boundaries(boundaries, min_area=options.min_area,
                                        close_gaps=options.close_gaps, fill_boundaries=True)
        return labels, boundaries, "components"


def tiling(options: SegmentOptions) -> dict:
    """The :meth:`Segmenter.maps` arguments ``options`` set, for normalised input."""
    return {"tile": options.tile, "overlap": options.overlap, "normalised": True,
            "precision": options.precision}


def merge_evidence(fine: np.ndarray, coarse: np.ndarray) -> np.ndarray:
    """What the weak-boundary merge reads, as an image (for windows, which are small):
    the larger of the full-resolution boundary probability and a reduced view's, enlarged
    (see ``merge_weak_boundaries``). The flood keeps the fine probability, since a
    blurred one would move the lines."""
    evidence = np.clip(resize(coarse, fine.shape), 0, 1)
    return np.maximum(evidence, fine, out=evidence)


def _unsure(choice: ScaleChoice, grain_range: tuple[float, float]) -> bool:
    """No grain size, disagreeing views, or grains at the small end of the model's range."""
    return (choice.grain_size is None or choice.agreement is None or choice.agreement > 1.5
            or choice.grain_size < 1.5 * grain_range[0])


def _nearest(labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A label image resampled to ``shape`` by nearest neighbour."""
    rows = (np.arange(shape[0]) + 0.5) * labels.shape[0] / shape[0]
    cols = (np.arange(shape[1]) + 0.5) * labels.shape[1] / shape[1]
    return labels[rows.astype(int)[:, None], cols.astype(int)[None, :]]
