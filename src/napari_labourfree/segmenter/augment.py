"""Appearance and geometry augmentation of (image, mask) batches, in torch on the device.

Geometry (flips, 90-degree turns, scale) happens at crop time in the sampler; this module
varies the look: brightness, contrast, gamma, blur and noise, each drawn per image, and for
colour images the hues. Images are in [-1, 1].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def vary_appearance(x: torch.Tensor, generator: torch.Generator | None = None,
                    strength: float = 1.0) -> torch.Tensor:
    """Random brightness, contrast, gamma, Gaussian blur and noise for a (B, C, H, W) batch
    (the same for all channels of an image, but the noise)."""
    b = x.shape[0]

    def uniform(low, high):
        r = torch.rand((b, 1, 1, 1), generator=generator).to(x.device)
        return low + (high - low) * r

    u = (x + 1) / 2
    u = u ** torch.exp(uniform(-0.4, 0.4) * strength)                      # gamma 0.67-1.5
    mean = u.mean(dim=(1, 2, 3), keepdim=True)
    u = (u - mean) * torch.exp(uniform(-0.35, 0.35) * strength) + mean      # contrast
    u = u + uniform(-0.15, 0.15) * strength                                 # brightness
    sigma = uniform(0, 1.2) * strength * (torch.rand((b, 1, 1, 1), generator=generator)
                                          .to(x.device) < 0.5)
    u = _blur(u, sigma)
    noise = torch.randn(x.shape, generator=generator).to(x.device)
    u = u + noise * uniform(0, 0.06) * strength
    return u.clamp(0, 1) * 2 - 1


def vary_colour(x: torch.Tensor, generator: torch.Generator | None = None,
                strength: float = 1.0) -> torch.Tensor:
    """Random hues for a (B, 3, H, W) batch: channels in a random order, each with its own
    gain, and the saturation varied. Which colour a tint etchant gives a grain depends on
    the etchant and the grain's orientation, so the network should read colour
    differences, not particular hues."""
    b, c = x.shape[:2]
    order = torch.argsort(torch.rand((b, c), generator=generator), dim=1).to(x.device)
    x = torch.gather(x, 1, order[:, :, None, None].expand_as(x))

    def uniform(shape, low, high):
        return low + (high - low) * torch.rand(shape, generator=generator).to(x.device)

    u = (x + 1) / 2 * torch.exp(uniform((b, c, 1, 1), -0.2, 0.2) * strength)  # white balance
    grey = u.mean(dim=1, keepdim=True)
    u = grey + (u - grey) * torch.exp(uniform((b, 1, 1, 1), -0.5, 0.5) * strength)
    return u.clamp(0, 1) * 2 - 1


def _blur(u: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Per-image Gaussian blur (sigma 0 = unchanged), 7-tap separable kernel."""
    taps = torch.arange(-3, 4, device=u.device, dtype=u.dtype)
    s = sigma.view(-1, 1).clamp_min(1e-3)
    k = torch.exp(-(taps[None] ** 2) / (2 * s**2))
    k = k / k.sum(1, keepdim=True)                                          # (B, 7)
    b = u.shape[0]
    padded = F.pad(u, (3, 3, 3, 3), mode="reflect").transpose(0, 1)        # (1, B, H+6, W+6)
    out = F.conv2d(padded, k.view(b, 1, 1, 7), groups=b)
    out = F.conv2d(out, k.view(b, 1, 7, 1), groups=b)
    return out.transpose(0, 1)


def resize_pair(image: torch.Tensor, target: torch.Tensor, size: int):
    """Resize a (B, C, s, s) image and its targets (B, C, s, s) bilinearly to ``size``:
    channel 0 is a 0/1 mask (cut again at 0.5), the others are continuous maps."""
    if image.shape[-1] == size:
        return image, target
    image = F.interpolate(image, size=(size, size), mode="bilinear", align_corners=False)
    target = F.interpolate(target, size=(size, size), mode="bilinear", align_corners=False)
    target[:, :1] = (target[:, :1] > 0.5).float()
    return image, target
