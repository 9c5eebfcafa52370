"""Where a style model put the structure: the shift between a simulation and its synthetic
image.

A generator is free to move what it draws: the adversarial loss does not see position,
and CycleGAN's cycle only asks that the two generators' shifts cancel. Trained style
models were found to draw the grain structure 3-4 px away from where the simulation has
it (docs/results.md), so each synthetic image's exact mask would sit beside its lines and
a segmenter trained on the pairs would learn lines in the wrong place. The shift is the
same for every image a model makes, so it is measured once over a few pairs and the masks
are moved onto the lines. It is measured against the masks (the lines themselves), not the
simulation images, whose particles (phi = 0 disks) have the strongest edges and may be
drawn in place while the lines move.
"""

from __future__ import annotations

import numpy as np


def _edges(image: np.ndarray) -> np.ndarray:
    """Gradient magnitude of an image's grey levels (its mean over channels), scaled to
    unit spread: lines and steps alike, whatever the look."""
    from skimage.filters import sobel

    grey = np.asarray(image, np.float32)
    grey = grey.mean(axis=-1) if grey.ndim == 3 else grey
    edges = sobel(grey)
    return (edges - edges.mean()) / (edges.std() + 1e-12)


def structure_shift(pairs) -> tuple[int, int]:
    """The (rows, cols) shift that moves a simulation onto its synthetic image, so that
    ``np.roll(mask, shift, (0, 1))`` lies on the synthetic image's structure.

    ``pairs``: (mask or simulation, synthetic) images of one shape (the first pair's;
    others are skipped). Their phase correlations are pooled, so faint or noisy pairs still agree on
    one peak. Whole pixels: the phase-field masks are moved, never resampled."""
    pairs = list(pairs)
    if not pairs:
        raise ValueError("give at least one (simulation, synthetic) pair")
    shape = np.shape(pairs[0][0])[:2]
    total = np.zeros(shape, np.complex128)
    for simulation, synthetic in pairs:
        if np.shape(simulation)[:2] != shape or np.shape(synthetic)[:2] != shape:
            continue
        cross = np.fft.fft2(_edges(synthetic)) * np.conj(np.fft.fft2(_edges(simulation)))
        total += cross / (np.abs(cross) + 1e-12)
    correlation = np.fft.ifft2(total).real
    peak = np.unravel_index(int(np.argmax(correlation)), shape)
    return tuple(int(p - n) if p > n // 2 else int(p) for p, n in zip(peak, shape))


def agreed_shift(pairs) -> tuple[tuple[int, int], dict]:
    """(shift, what was found): :func:`structure_shift` over all ``pairs`` when the two
    halves of them agree within a pixel, else (0, 0). A style that keeps no structure
    gives each half its own peak, and moving masks by noise would do harm."""
    pairs = list(pairs)
    found = {"pairs": len(pairs)}
    if len(pairs) < 2:
        shift = structure_shift(pairs)
        return shift, {**found, "shift": list(shift)}
    half = len(pairs) // 2
    first, second = structure_shift(pairs[:half]), structure_shift(pairs[half:])
    found.update(halves=[list(first), list(second)])
    if max(abs(a - b) for a, b in zip(first, second)) > 1:
        return (0, 0), {**found, "shift": [0, 0], "note": "the halves disagree: not moved"}
    shift = structure_shift(pairs)
    return shift, {**found, "shift": list(shift)}
