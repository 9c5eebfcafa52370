"""Weights one widget produces and another uses (the Segmenter widget trains or loads a
model; the Segment widget picks it up)."""

from __future__ import annotations

from psygnal import Signal


class SharedModels:
    segmenter_changed = Signal(str)
    style_changed = Signal(str)

    def __init__(self):
        self.segmenter: str = ""
        self.style: str = ""

    def set_segmenter(self, path: str) -> None:
        self.segmenter = str(path)
        self.segmenter_changed.emit(self.segmenter)

    def set_style(self, path: str) -> None:
        self.style = str(path)
        self.style_changed.emit(self.style)


shared = SharedModels()
