"""Unpaired style translation between simulations and real micrographs (CycleGAN)."""
