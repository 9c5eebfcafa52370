"""Boundary segmentation with a U-Net trained on synthetic data only."""
