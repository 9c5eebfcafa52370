"""A trained segmenter: boundary probability, boundary mask and grains for any image."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .. import checkpoints
from ..devices import autocast
from ..jobs import Job
from ..normalise import check_image, to_network
from ..tiling import tiled_apply

KIND = "segmenter"
DEFAULT_TILE = 512
DEFAULT_OVERLAP = 64


@dataclass
class Segmentation:
    probability: np.ndarray  # float32 boundary probability in [0, 1]
    boundaries: np.ndarray   # bool, probability above the threshold
    labels: np.ndarray       # uint32 grains (boundary pixels given to the nearest grain)


class Segmenter:
    """A U-Net in eval mode plus the normalisation and threshold it was trained with."""

    def __init__(self, net: torch.nn.Module, header: dict, device: torch.device):
        self.net, self.header, self.device = net.eval(), header, torch.device(device)

    @classmethod
    def load(cls, path: Path | str, device: torch.device | str = "cpu") -> Segmenter:
        from .train import build_unet

        header, tensors = checkpoints.load(path, KIND)
        net = build_unet(header["config"]["architecture"])
        checkpoints.restore(tensors, {"unet": net}, Path(path).name)
        return cls(net.to(device), header, device)

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
    def threshold(self) -> float:
        return float(self.header["config"].get("threshold", 0.5))

    def probability(self, image: np.ndarray, *, tile: int = DEFAULT_TILE,
                    overlap: int = DEFAULT_OVERLAP, tta: bool = False,
                    normalised: bool = False, batch_size: int = 4) -> Job[np.ndarray]:
        """Job: boundary probability of a 2-D image of any size, tile by tile.

        ``tta``: average over the 8 flips/turns (slower, smoother). ``normalised``: the
        image is already network input in [-1, 1].
        """
        x = np.asarray(image, np.float32) if normalised else to_network(check_image(image),
                                                                        self.normalisation)
        net, device = self.net, self.device

        def run(batch: torch.Tensor) -> torch.Tensor:
            with autocast(device):
                if not tta:
                    return torch.sigmoid(net(batch).float())
                total = torch.zeros_like(batch)
                for flip in (False, True):
                    b = batch.flip(-1) if flip else batch
                    for k in range(4):
                        p = torch.sigmoid(net(torch.rot90(b, k, (-2, -1))).float())
                        p = torch.rot90(p, -k, (-2, -1))
                        total += p.flip(-1) if flip else p
                return total / 8

        return tiled_apply(run, x, tile=tile, overlap=overlap, multiple=2**net.depth,
                           batch_size=batch_size, device=device, message="segmenting")

    def segment(self, image: np.ndarray, *, threshold: float | None = None,
                min_area: int = 16, close_gaps: float = 0.0, tile: int = DEFAULT_TILE,
                overlap: int = DEFAULT_OVERLAP, tta: bool = False) -> Job[Segmentation]:
        """Job: probability -> boundary mask -> grains (specks under ``min_area`` px are
        merged into their neighbours; ``close_gaps`` splits grains joined through gaps in
        the predicted boundaries, see :func:`grains_from_boundaries`)."""
        from ..analysis.instances import grains_from_boundaries

        threshold = self.threshold if threshold is None else threshold
        prob = yield from self.probability(image, tile=tile, overlap=overlap, tta=tta)
        boundaries = prob > threshold
        labels = grains_from_boundaries(boundaries, min_area=min_area, close_gaps=close_gaps,
                                        fill_boundaries=True)
        return Segmentation(prob, boundaries, labels)
