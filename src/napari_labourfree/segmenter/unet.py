"""U-Net (Ronneberger et al. 2015) predicting per-pixel logits: the grain-boundary logit, and
optionally a second map (each pixel's distance to its grain's boundary, as a fraction of
that grain's largest distance) that stays closed where a boundary is faint."""

from __future__ import annotations

import torch
from torch import nn

from ..checkpoints import CheckpointError


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """Encoder of ``depth`` 2x poolings (width doubling from ``base``), a mirrored decoder
    with skip connections, and a 1x1 head. Inputs must be divisible by 2 ** depth."""

    def __init__(self, depth: int = 4, base: int = 32, channels: int = 1, outputs: int = 1):
        super().__init__()
        if depth < 1 or base < 1 or outputs < 1:
            raise ValueError("U-Net depth, base width and outputs must be at least 1")
        self.depth, self.channels = depth, channels
        widths = [base * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList([_double_conv(channels, widths[0])] + [
            _double_conv(widths[i], widths[i + 1]) for i in range(depth)])
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList([nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2)
                                 for i in reversed(range(depth))])
        self.merge = nn.ModuleList([_double_conv(2 * widths[i], widths[i])
                                    for i in reversed(range(depth))])
        self.outputs = outputs
        self.head = nn.Conv2d(widths[0], outputs, 1)

    @property
    def multiple(self) -> int:
        return 2**self.depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips[:-1])):
            x = merge(torch.cat([up(x), skip], dim=1))
        return self.head(x)


def build_unet(arch: dict) -> UNet:
    """The U-Net a weights file's architecture record describes."""
    if arch.get("name") != "unet":
        raise CheckpointError(f"unknown segmenter architecture {arch.get('name')!r}")
    if arch.get("channels") not in (1, 3):
        raise CheckpointError(f"a segmenter takes 1 (grey) or 3 (RGB) channels, not "
                              f"{arch.get('channels')!r}")
    if arch.get("outputs", 1) not in (1, 2):
        raise CheckpointError(f"a segmenter has 1 or 2 outputs, not "
                                          f"{arch.get('outputs')!r}")
    return UNet(arch["depth"], arch["base"], arch["channels"], arch.get("outputs", 1))


FIRST_CONV = "down.0.0.weight"


def grey_to_colour(tensors: dict[str, torch.Tensor], prefix: str = "unet.") -> dict:
    """A grey U-Net's tensors made to take RGB: the first convolution's weights are split
    equally over the three channels, so an RGB image whose channels are equal gives exactly
    the grey model's output. Fine-tuning a grey model on colour data starts from there."""
    key = prefix + FIRST_CONV
    weight = tensors[key]
    if weight.shape[1] != 1:
        raise CheckpointError(f"expected a grey (1-channel) first convolution, not "
                              f"{weight.shape[1]} channels")
    return {**tensors, key: weight.repeat(1, 3, 1, 1) / 3}
