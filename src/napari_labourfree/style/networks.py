"""CycleGAN networks (Zhu et al. 2017): ResNet generator and PatchGAN discriminator.

Grey images in [-1, 1], one channel. Instance normalisation without affine parameters and
reflection padding, as in the reference implementation.
"""

from __future__ import annotations

import torch
from torch import nn


def _norm(channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


class ResnetBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=True), _norm(channels),
            nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=True), _norm(channels),
        )

    def forward(self, x):
        return x + self.body(x)


UPSAMPLING = ("resize", "transpose")


def _upsample(channels_in: int, channels_out: int, how: str) -> list[nn.Module]:
    """2x upsampling. 'resize' (nearest neighbour, then a 3x3 convolution) leaves no
    checkerboard; 'transpose' (stride-2 transposed convolution) is the reference
    implementation's, kept so older weights still load (Odena et al. 2016, Distill)."""
    if how == "resize":
        return [nn.Upsample(scale_factor=2, mode="nearest"), nn.ReflectionPad2d(1),
                nn.Conv2d(channels_in, channels_out, 3)]
    if how == "transpose":
        return [nn.ConvTranspose2d(channels_in, channels_out, 3, stride=2, padding=1,
                                   output_padding=1)]
    raise ValueError(f"unknown upsampling {how!r}; choose one of {', '.join(UPSAMPLING)}")


class ResnetGenerator(nn.Module):
    """c7s1-ngf, two stride-2 downsamplings, ``n_blocks`` residual blocks, two upsamplings
    (see :func:`_upsample`), c7s1-1 + tanh. Inputs must be divisible by 4."""

    multiple = 4

    def __init__(self, ngf: int = 64, n_blocks: int = 9, channels: int = 1,
                 upsample: str = "resize"):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(channels, ngf, 7), _norm(ngf),
                  nn.ReLU(inplace=True)]
        for i in range(2):
            c = ngf * 2**i
            layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1), _norm(2 * c),
                       nn.ReLU(inplace=True)]
        layers += [ResnetBlock(ngf * 4) for _ in range(n_blocks)]
        for i in range(2):
            c = ngf * 2 ** (2 - i)
            layers += [*_upsample(c, c // 2, upsample), _norm(c // 2), nn.ReLU(inplace=True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


def generator(arch: dict) -> ResnetGenerator:
    """The generator an architecture dict (from a weights header) describes; headers from
    before resize upsampling carry no 'upsample' and used transposed convolutions."""
    return ResnetGenerator(arch["ngf"], arch["n_blocks"], arch["channels"],
                           arch.get("upsample", "transpose"))


class PatchDiscriminator(nn.Module):
    """70x70 PatchGAN (three stride-2 layers): one real/fake score per overlapping patch."""

    def __init__(self, ndf: int = 64, channels: int = 1, n_layers: int = 3):
        super().__init__()
        layers = [nn.Conv2d(channels, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1),
                       _norm(ndf * mult), nn.LeakyReLU(0.2, True)]
        layers += [nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


def init_weights(module: nn.Module, gain: float = 0.02) -> None:
    """N(0, 0.02) weights and zero biases, as in the CycleGAN paper."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class ImagePool:
    """History of generated images (Shrivastava et al.): the discriminator sees a mix of
    the newest fakes and older ones, which damps oscillation."""

    def __init__(self, size: int = 50, generator: torch.Generator | None = None):
        self.size = size
        self.images: list[torch.Tensor] = []
        self.rng = generator

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            image = image[None]
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand((), generator=self.rng).item() < 0.5:
                i = int(torch.randint(0, self.size, (), generator=self.rng))
                out.append(self.images[i].clone())
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.cat(out)
