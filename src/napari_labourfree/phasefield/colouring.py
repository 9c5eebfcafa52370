"""Graph colouring of grains so that a few order-parameter fields carry many grains.

Each field ("colour") holds several grains that are far apart. Grains of one colour never
touch, so they cannot coalesce, and the multi-field free energy is the same as with one
field per grain. Each field also keeps an ``owner`` map (grain id per pixel, 0 = none),
so grain ids stay stable and a grain can be moved to another field when growth brings it
near a grain of its own colour. The owner maps are held in the smallest integer type that
holds every id (``id_dtype``): they are pooled every check, and uint8 moves a quarter of
float32's bytes.

All tensors are batched: ``eta`` and ``owner`` have shape (B, K, H, W).
"""

from __future__ import annotations

import numpy as np
import torch

# eta above this belongs to a grain's footprint (its body plus the diffuse tail we track)
FOOTPRINT = 0.01
# eta above this is the grain's body, used for the distance between same-colour grains
BODY = 0.5


def id_dtype(highest_id: int) -> torch.dtype:
    """The smallest integer type (with the comparisons and maxima torch vectorises) that
    holds grain ids up to ``highest_id``."""
    for dtype in (torch.uint8, torch.int16, torch.int32):
        if highest_id <= torch.iinfo(dtype).max:
            return dtype
    return torch.int64


def _window(x: torch.Tensor, radius: int, dim: int, reduce=torch.maximum) -> torch.Tensor:
    """Max (or another ``reduce``) over [-radius, radius] along ``dim`` of a periodic tensor.

    Doubling: after k rounds ``m`` holds the max over [i, i + 2^k), then two overlapping
    windows cover the full length. O(log r) rolls, far faster than max_pool2d on CPU.
    """
    width = 2 * radius + 1
    m, length = x, 1
    while 2 * length <= width:
        m = reduce(m, m.roll(-length, dim))
        length *= 2
    if length < width:
        m = reduce(m, m.roll(-(width - length), dim))
    return m.roll(radius, dim)


def circular_max_pool(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Max over a (2r+1)^2 square window on a periodic grid (last two dims)."""
    if radius <= 0:
        return x
    return _window(_window(x, radius, -1), radius, -2)


def circular_min_pool(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Min over a (2r+1)^2 square window on a periodic grid (last two dims)."""
    if radius <= 0:
        return x
    return _window(_window(x, radius, -1, torch.minimum), radius, -2, torch.minimum)


def adjacency_pairs(labels: np.ndarray, gap: int) -> np.ndarray:
    """Pairs (i, j), i < j, of grains in a label map that lie within about ``gap`` px.

    Compares each pixel with pixels at distances 1, gap/2 and gap in 8 directions (periodic).
    It is a good first guess for the colouring; :func:`find_conflicts` checks exactly later.
    """
    n = int(labels.max()) + 1
    radii = sorted({1, max(1, gap // 2), max(1, gap)})
    codes = []
    for r in radii:
        for dy, dx in ((0, r), (r, 0), (r, r), (r, -r)):
            other = np.roll(labels, (dy, dx), axis=(0, 1))
            differ = other != labels
            a, b = labels[differ], other[differ]
            codes.append(np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b))
    if not codes:
        return np.zeros((0, 2), dtype=np.int64)
    present = np.flatnonzero(np.bincount(np.concatenate(codes), minlength=n * n))
    return np.column_stack([present // n, present % n])


def greedy_colouring(n_grains: int, pairs: np.ndarray) -> np.ndarray:
    """Welsh-Powell colouring: grain ids 1..n -> colours 0..; index 0 is unused."""
    neighbours: list[list[int]] = [[] for _ in range(n_grains + 1)]
    for i, j in pairs:
        neighbours[i].append(j)
        neighbours[j].append(i)
    colour = np.full(n_grains + 1, -1, dtype=np.int64)
    for g in sorted(range(1, n_grains + 1), key=lambda g: -len(neighbours[g])):
        used = {colour[h] for h in neighbours[g]}
        c = 0
        while c in used:
            c += 1
        colour[g] = c
    colour[0] = 0
    return colour


def fields_from_labels(labels: np.ndarray, colours: np.ndarray, n_fields: int):
    """Sharp initial fields (1 inside each grain, 0 elsewhere), float32, and owner maps of
    ``id_dtype`` for the ids ``colours`` covers, (K, H, W)."""
    grain_colour = colours[labels]
    eta = np.zeros((n_fields, *labels.shape), dtype=np.float32)
    ids = torch.empty(0, dtype=id_dtype(len(colours) - 1)).numpy().dtype
    owner = np.zeros((n_fields, *labels.shape), dtype=ids)
    for c in range(n_fields):
        here = grain_colour == c
        eta[c][here] = 1.0
        owner[c][here] = labels[here]
    return eta, owner


def update_owner(eta: torch.Tensor, owner: torch.Tensor, max_iter: int = 32) -> torch.Tensor:
    """Follow moving interfaces: pixels that joined a footprint take their neighbour's id."""
    present = eta > FOOTPRINT
    owner = torch.where(present, owner, torch.zeros_like(owner))
    for _ in range(max_iter):
        missing = present & (owner == 0)
        if not bool(missing.any()):
            break
        owner = torch.where(missing, circular_max_pool(owner, 1), owner)
    return owner


def find_conflicts(eta: torch.Tensor, owner: torch.Tensor, gap: int) -> list[tuple[int, int, int]]:
    """(batch, grain_a, grain_b) for same-colour grains whose bodies are within ``gap`` px."""
    body = torch.where(eta > BODY, owner, torch.zeros_like(owner))
    inside = body > 0
    highest = circular_max_pool(body, gap)
    # A clash has a body pixel with a larger id in its window: the pixel of the pair's
    # smaller grain sees the larger one. Checking that needs one pool, not two, and most
    # checks find none (issue 16: this made a third of a structure's time).
    if not bool((inside & (highest != body)).any()):
        return []
    big = torch.iinfo(body.dtype).max if not body.dtype.is_floating_point \
        else torch.finfo(body.dtype).max
    lowest = circular_min_pool(torch.where(inside, body, torch.full_like(body, big)), gap)
    clash = inside & (highest != lowest)
    b = clash.nonzero()[:, 0]
    pairs = torch.stack([b, highest[clash].long(), lowest[clash].long()], dim=1)
    return [tuple(int(v) for v in row) for row in torch.unique(pairs, dim=0).tolist()]


def _grain_field(owner: torch.Tensor, b: int, grain: int) -> int:
    return int((owner[b] == grain).flatten(1).any(1).nonzero()[0])


def recolour(eta: torch.Tensor, owner: torch.Tensor, b: int, grain: int, gap: int):
    """Move ``grain`` of batch item ``b`` to a field with no body within ``gap`` px of it.

    Returns (eta, owner), with one more (empty) field appended when no field is free.
    """
    c_old = _grain_field(owner, b, grain)
    mine = owner[b, c_old] == grain
    body_mine = mine & (eta[b, c_old] > BODY)
    near = circular_max_pool(body_mine[None, None].to(eta.dtype), gap)[0, 0] > 0
    others = (eta[b] > BODY) & (owner[b] != grain)
    used = (others & near).flatten(1).any(1)
    free = (~used).nonzero().flatten().tolist()
    free = [c for c in free if c != c_old]
    if not free:
        eta = torch.cat([eta, torch.zeros_like(eta[:, :1])], dim=1)
        owner = torch.cat([owner, torch.zeros_like(owner[:, :1])], dim=1)
        free = [eta.shape[1] - 1]
    c_new = free[0]
    moved = torch.where(mine, eta[b, c_old], torch.zeros_like(eta[b, c_old]))
    target = eta[b, c_new]
    owner[b, c_new] = torch.where(mine & (moved >= target), owner[b, c_old], owner[b, c_new])
    eta[b, c_new] = target + moved
    eta[b, c_old] = torch.where(mine, torch.zeros_like(moved), eta[b, c_old])
    owner[b, c_old] = torch.where(mine, torch.zeros_like(owner[b, c_old]), owner[b, c_old])
    return eta, owner


def resolve_conflicts(eta: torch.Tensor, owner: torch.Tensor, gap: int, max_rounds: int = 64):
    """Recolour until no two bodies of one colour are within ``gap`` px; returns (eta, owner, n)."""
    moves = 0
    for _ in range(max_rounds):
        conflicts = find_conflicts(eta, owner, gap)
        if not conflicts:
            return eta, owner, moves
        done: set[tuple[int, int]] = set()
        for b, g1, g2 in conflicts:
            if (b, g1) in done or (b, g2) in done:
                continue  # one of the pair has moved this round; check again next round
            area1 = int(((owner[b] == g1) & (eta[b] > BODY)).sum())
            area2 = int(((owner[b] == g2) & (eta[b] > BODY)).sum())
            grain = g1 if area1 <= area2 else g2
            eta, owner = recolour(eta, owner, b, grain, gap)
            done.add((b, grain))
            moves += 1
    raise RuntimeError("could not separate same-colour grains; try a smaller gap")
