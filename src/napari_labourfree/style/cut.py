"""Contrastive unpaired translation (CUT, FastCUT; Park et al. 2020): one generator instead
of CycleGAN's two, about half the memory and time per iteration.

F (simulation -> real look) is trained against one discriminator on the real images. In
place of the cycle, a PatchNCE loss keeps each output patch tied to the input patch at the
same place: features from F's own encoder, projected by small MLP heads, must pick their
source patch out of 256 patches of the same image. CUT adds the same loss on real images
passed through F (an identity term); FastCUT drops it and weighs PatchNCE 10x.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .networks import PatchDiscriminator, generator

VARIANTS = {"cut": {"lambda_nce": 1.0, "identity": True},
            "fastcut": {"lambda_nce": 10.0, "identity": False}}
PATCHES = 256  # sampled locations per layer
TEMPERATURE = 0.07
HEAD_WIDTH = 256


def nce_layers(n_blocks: int) -> list[int]:
    """Indices in the generator's Sequential whose outputs are compared: the padded input,
    both downsampling convolutions, the first and the last residual block."""
    return sorted({0, 4, 7, 10, 9 + max(n_blocks, 1)} if n_blocks else {0, 4, 7})


class CUT(nn.Module):
    """F, the real-image discriminator D_X, and the PatchNCE projection heads H."""

    def __init__(self, arch: dict):
        super().__init__()
        self.arch = dict(arch)
        self.F = generator(arch)
        self.D_X = PatchDiscriminator(arch["ndf"], arch["channels"])
        self.layers = nce_layers(arch["n_blocks"])
        with torch.no_grad():
            widths = [f.shape[1] for f in self.encode(torch.zeros(1, arch["channels"], 16, 16))]
        self.H = nn.ModuleList(nn.Sequential(nn.Linear(c, HEAD_WIDTH), nn.ReLU(),
                                             nn.Linear(HEAD_WIDTH, HEAD_WIDTH))
                               for c in widths)

    def modules_to_save(self) -> dict:
        return {"F": self.F, "D_X": self.D_X, "H": self.H}

    def generator_parameters(self):
        return [*self.F.parameters(), *self.H.parameters()]

    def discriminator_parameters(self):
        return list(self.D_X.parameters())

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """F's features at :attr:`layers` (the encoder part only)."""
        found, last = [], self.layers[-1]
        for i, module in enumerate(self.F.model):
            x = module(x)
            if i in self.layers:
                found.append(x)
            if i == last:
                break
        return found

    def patch_nce(self, source: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """Mean PatchNCE loss between an input batch and its translation."""
        losses = []
        for head, k, q in zip(self.H, self.encode(source), self.encode(output), strict=True):
            b, _, h, w = k.shape
            ids = torch.randperm(h * w, device=k.device)[:PATCHES]
            k = F.normalize(head(k.flatten(2).transpose(1, 2)[:, ids]), dim=-1).detach()
            q = F.normalize(head(q.flatten(2).transpose(1, 2)[:, ids]), dim=-1)
            logits = torch.bmm(q, k.transpose(1, 2)) / TEMPERATURE  # (B, P, P)
            # the patch at the same place is the one to pick out of all P
            target = torch.arange(logits.shape[1], device=k.device).expand(b, -1)
            losses.append(F.cross_entropy(logits.flatten(0, 1).float(), target.flatten()))
        return torch.stack(losses).mean()


def cut_step(model: CUT, x, y, opt_g, opt_d, variant: str, lsgan) -> dict:
    """One CUT/FastCUT iteration: x real, y simulations (network input, [-1, 1])."""
    settings = VARIANTS[variant]
    for p in model.D_X.parameters():
        p.requires_grad_(False)
    fake = model.F(y)
    loss_gan = lsgan(model.D_X(fake), True)
    loss_nce = model.patch_nce(y, fake)
    loss_idt = model.patch_nce(x, model.F(x)) if settings["identity"] else torch.zeros(())
    loss_g = loss_gan + settings["lambda_nce"] * (
        (loss_nce + loss_idt) / 2 if settings["identity"] else loss_nce)
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    for p in model.D_X.parameters():
        p.requires_grad_(True)
    loss_d = 0.5 * (lsgan(model.D_X(x), True) + lsgan(model.D_X(fake.detach()), False))
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    return {"G": loss_gan.item(), "NCE": loss_nce.item(), "identity": loss_idt.item(),
            "D_X": loss_d.item()}
