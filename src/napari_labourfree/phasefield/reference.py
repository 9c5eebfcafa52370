"""Dense reference solver: one order-parameter field per grain.

The naive baseline the coloured solver is checked and benchmarked against. Same equation,
same explicit step (``allen_cahn_step``), no colouring, no tracking: grain ids are simply
the index of the strongest field.
"""

from __future__ import annotations

import numpy as np
import torch

from .params import GrowthParams
from .solver import allen_cahn_step, boundary_mask, phi_of


def dense_fields(labels: np.ndarray) -> torch.Tensor:
    """One sharp field per grain id 1..n, shape (1, n, H, W)."""
    n = int(labels.max())
    ids = torch.from_numpy(labels.astype(np.int64))
    return (ids[None] == torch.arange(1, n + 1)[:, None, None]).float()[None]


def grow_dense(labels: np.ndarray, params: GrowthParams, steps: int | None = None,
               device: torch.device | str = "cpu"):
    """Grow with all fields stored; returns (phi, mask, labels) for one structure."""
    params.validate()
    eta = dense_fields(labels).to(device)
    for _ in range(params.steps if steps is None else steps):
        eta = allen_cahn_step(eta, params.dt * params.mobility, params.kappa)
    phi = phi_of(eta)[0].cpu().numpy()
    grains = (eta[0].argmax(0) + 1).cpu().numpy().astype(np.uint16)
    return phi, boundary_mask(phi, params.mask_threshold), grains
