"""Grain statistics dock widget: a sortable grain table, histograms, summary, CSV export."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, FileEdit, Label, LineEdit, PushButton
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QAbstractItemView, QTableWidget, QTableWidgetItem

from ..jobs import Progress
from ..units import UNIT_CHOICES, PixelSize
from ._base import TAG, JobWidget
from ._layers import as_features, layer_pixel_size
from ._plots import apply_theme, make_canvas

if TYPE_CHECKING:
    import napari

SHOWN = ("label", "area", "equivalent_diameter", "perimeter", "circularity", "aspect_ratio",
         "orientation_deg", "touches_border")


def _measure(labels: np.ndarray, size: PixelSize | None, include_border: bool):
    """Job: grain table (with ``index``/``frame`` columns), summary, growth series."""
    from ..analysis.statistics import grain_summary, grain_table, growth_series, stack_tables

    frames = labels if labels.ndim == 3 else labels[None]
    tables, summaries = [], []
    for k, frame in enumerate(frames):
        table = grain_table(frame, size)
        summaries.append(grain_summary(frame, table, size, include_border))
        tables.append(table)
        yield Progress(k + 1, len(frames), f"frame {k + 1}/{len(frames)}")
    growth = growth_series(frames, size, include_border) if len(frames) > 1 else None
    return as_features(stack_tables(tables)), summaries[-1], growth


HEADINGS = {"label": "label", "frame": "frame", "area": "area", "equivalent_diameter": "ECD",
            "perimeter": "perimeter", "circularity": "circularity",
            "aspect_ratio": "aspect ratio", "orientation_deg": "orientation (°)",
            "touches_border": "at edge"}


def _unit_text(unit: str) -> str:
    return {"um": "µm", "A": "Å"}.get(unit, unit)


def _heading(column: str) -> str:
    """'area_um2' -> 'area (µm²)', 'equivalent_diameter_px' -> 'ECD (px)'."""
    for base, text in HEADINGS.items():
        if column == base:
            return text
        if column.startswith(base + "_") and base not in ("orientation_deg",):
            unit = column[len(base) + 1:]
            squared = unit.endswith("2")
            return f"{text} ({_unit_text(unit.rstrip('2'))}{'²' if squared else ''})"
    return column


def _is_own_grains(layer) -> bool:
    """A grains layer this plugin made (Segment's output)."""
    return layer._type_string == "labels" and bool(layer.metadata.get(TAG))


class GrainStatsWidget(JobWidget):
    """Table, histograms and summary of a Labels layer's grains; export to CSV."""

    title = "Grain statistics"

    def __init__(self, viewer: napari.viewer.Viewer):
        w_grains = ComboBox(choices=self.layers_of("labels"), label="grains layer")
        w_pixel_size = LineEdit(value="", label="pixel size",
                                tooltip="side of one pixel, e.g. 0.2252; used when the layer "
                                "carries none (empty = pixels only)")
        w_unit = ComboBox(choices=UNIT_CHOICES, value="um", label="unit")
        w_include_border = CheckBox(value=False, text="include grains touching the edge "
                                    "in the summary")
        w_measure = PushButton(text="Measure grains")
        w_summary = Label(value="")
        w_csv = FileEdit(mode="w", filter="*.csv", label="CSV file")
        w_export = PushButton(text="Export CSV")
        parts = {k[2:]: v for k, v in locals().items() if k.startswith("w_")}
        super().__init__(viewer, parts, ["measure", "export"], sections={
            "Pixel size": ["pixel_size", "unit"], "Export": ["csv", "export"]})
        self.table = QTableWidget()
        self.table.setSortingEnabled(True)
        self.table.resizeColumnsToContents()
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setMinimumHeight(180)
        self.table.itemSelectionChanged.connect(self._select_grain)
        self.canvas, self.figure = make_canvas(1, 2, viewer=viewer)
        self.table.setVisible(False)  # shown with the first measurement
        self.native.layout().addWidget(self.table)
        self.native.layout().addWidget(self.canvas)
        self._result = None
        self._layer = None  # the layer measured last, watched for changes
        self._chosen = False  # whether the user asked to measure that layer
        self.measure.changed.connect(lambda: self._start(chosen=True))
        self.export.changed.connect(self._export)
        self.grains.changed.connect(self._layer_chosen)
        self.update_buttons()
        own = [layer for layer in viewer.layers if _is_own_grains(layer)]
        if own:  # opened after Segment: show its grains at once (never a user's mask)
            self.grains.value = own[-1]
            if self._layer is not own[-1]:
                self._start()
        elif self.grains.value is not None:
            self.status.value = f"press Measure grains to measure '{self.grains.value.name}'"

    def reset_choices(self, *args) -> None:
        super().reset_choices(*args)
        self.update_buttons()

    def update_buttons(self) -> None:
        if not self.busy:
            self.measure.enabled = self.grains.value is not None
            self.export.enabled = self._result is not None

    def _layer_chosen(self, layer) -> None:
        self.update_buttons()
        if layer is None or layer is self._layer or self.busy:
            return
        if _is_own_grains(layer):
            self._start()
        else:
            self.status.value = f"press Measure grains to measure '{layer.name}'"

    def show_grains(self, layer) -> None:
        """Choose ``layer`` and measure it, unless it is measured (or being measured)."""
        if self.grains.value is not layer:
            self.grains.value = layer  # measures the plugin's own layers at once
        if not self.busy and self._layer is not layer:
            self._start(chosen=True, layer=layer)

    def _data_changed(self, event=None) -> None:
        """The measured layer was edited or segmented again: measure it again."""
        if not self._closed and not self.busy and self._layer is not None:
            self._start(chosen=self._chosen, layer=self._layer)

    def _pixel_size(self, layer) -> PixelSize | None:
        stored = layer.metadata.get("pixel_size")
        if stored:
            return PixelSize(stored["value"], stored["unit"], stored.get("source", "layer"))
        return layer_pixel_size(layer, self.pixel_size.value, self.unit.value)

    def _start(self, chosen: bool = False, layer=None) -> None:
        layer = layer if layer is not None else self.grains.value
        if layer is None:
            self.error("choose a Labels layer")
            return
        try:
            data = np.asarray(layer.data)
            if data.ndim not in (2, 3):
                raise ValueError(f"layer '{layer.name}' has shape {data.shape}; expected a 2-D "
                                 "label image or a (frames, y, x) stack")
            if not np.issubdtype(data.dtype, np.integer):
                raise ValueError(f"layer '{layer.name}' holds {data.dtype}, not grain ids")
            size = self._pixel_size(layer)
        except ValueError as err:
            self.error(err)
            return
        self.run_job(_measure(data, size, self.include_border.value),
                     lambda result: self._show(layer, size, result, chosen),
                     f"measuring '{layer.name}'")

    def _show(self, layer, size, result, chosen: bool) -> None:
        table, summary, growth = result
        self._result = (table, summary, growth, size, layer)
        self._watch(layer, chosen)
        if chosen or _is_own_grains(layer):  # never into a layer nobody asked to measure
            layer.features = table  # other plugins can use it; rows map to ids via `index`
        self._fill_table(table, size)
        self._plot(table, growth, size)
        self.table.setVisible(True)
        self.canvas.setVisible(True)
        self.status.value = f"measured {len(table['label'])} grains in '{layer.name}'"
        u = size.unit if size else "px"
        ecd = summary.get(f"mean_equivalent_diameter_{u}", summary["mean_equivalent_diameter_px"])
        g = summary["astm_g_planimetric"]
        self.summary.value = (f"{summary['grains']} grains (+{summary['grains_touching_border']} "
                              f"at the edge), mean ECD {ecd:.3g} {_unit_text(u)}"
                              + ("" if g is None else f", ASTM G {g:.1f}"))
        self.update_buttons()

    def _watch(self, layer, chosen: bool) -> None:
        if self._layer is not layer:
            if self._layer is not None:
                self._layer.events.data.disconnect(self._data_changed)
            layer.events.data.connect(self._data_changed)
        self._layer, self._chosen = layer, chosen

    def _columns(self, table, size):
        names = ["frame"] if len(np.unique(table["frame"])) > 1 else []
        for base in SHOWN:
            unit_name = None
            if size is not None:
                unit_name = f"{base}_{size.unit}2" if base == "area" else f"{base}_{size.unit}"
            for name in (unit_name, f"{base}_px", base):
                if name and name in table:
                    names.append(name)
                    break
        return names

    def _fill_table(self, table, size) -> None:
        names = self._columns(table, size)
        self.table.setSortingEnabled(False)
        self.table.clear()
        self.table.setColumnCount(len(names))
        self.table.setHorizontalHeaderLabels([_heading(n) for n in names])
        self.table.setRowCount(len(table["label"]))
        for j, name in enumerate(names):
            for i, value in enumerate(table[name]):
                item = QTableWidgetItem()
                item.setData(Qt.DisplayRole, bool(value) if name == "touches_border"
                             else int(value) if name in ("label", "frame") or
                             name.startswith("area_px") else round(float(value), 4))
                self.table.setItem(i, j, item)
        self.table.setSortingEnabled(True)

    def _plot(self, table, growth, size) -> None:
        u = _unit_text(size.unit) if size else "px"
        area = f"area_{size.unit}2" if size else "area_px"
        keep = ~table["touches_border"] if not self.include_border.value else slice(None)
        self.figure.clear()  # two panels, or three with a growth series: none left empty
        axes = self.figure.subplots(1, 2 if growth is None else 3)
        ax_area, ax_circ = axes[:2]
        ax_area.hist(table[area][keep], bins=25, color="#4477aa")
        ax_area.set_xlabel(f"grain area ({u}²)")
        ax_area.set_ylabel("grains")
        ax_circ.hist(table["circularity"][keep], bins=25, range=(0, 1), color="#66ccee")
        ax_circ.set_xlabel("circularity 4πA/P²")
        if growth is not None:
            d = f"equivalent_diameter_{size.unit}" if size else "equivalent_diameter_px"
            axes[2].errorbar(growth["frame"], growth[f"mean_{d}"], yerr=growth[f"std_{d}"],
                             marker="o", ms=3, capsize=2)
            axes[2].set_xlabel("frame")
            axes[2].set_ylabel(f"mean ECD ({u})")
        apply_theme(self.figure, self._viewer)
        self.canvas.draw_idle()

    def _select_grain(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or self._result is None:
            return
        layer = self._result[4]
        header = [self.table.horizontalHeaderItem(j).text()
                  for j in range(self.table.columnCount())]
        grain = int(self.table.item(rows[0].row(), header.index("label")).data(Qt.DisplayRole))
        layer.selected_label = grain
        layer.show_selected_label = True
        table = self._result[0]
        i = int(np.flatnonzero(table["label"] == grain)[0])
        if layer.ndim == 3:
            step = list(self._viewer.dims.current_step)
            step[-3] = int(table["frame"][i])
            self._viewer.dims.current_step = tuple(step)
        centre = np.array([table["centroid_y_px"][i], table["centroid_x_px"][i]])
        scene = getattr(self._viewer, "scene", None)  # napari >= 0.9 keeps the camera there
        camera = scene.camera if scene is not None else self._viewer.camera
        camera.center = tuple(centre * np.asarray(layer.scale)[-2:]
                              + np.asarray(layer.translate)[-2:])

    def _export(self) -> None:
        from ..io.tables import write_csv, write_json

        text = self.csv.line_edit.value.strip()
        if not text or self._result is None:
            self.error("measure the grains and choose a CSV file first")
            return
        path = Path(text).expanduser()
        if path.suffix.lower() != ".csv":
            path = path.with_suffix(".csv")
        table, summary, growth, size, layer = self._result
        try:
            write_csv(path, table)
            write_json(path.with_name(path.stem + "_summary.json"), {
                "layer": layer.name, "pixel_size": None if size is None else size.as_dict(),
                "include_border": self.include_border.value, "summary": summary})
            if growth is not None:
                write_csv(path.with_name(path.stem + "_growth.csv"), growth)
        except OSError as err:
            self.error(f"could not write {path}: {err.strerror or err}")
            return
        self.status.value = f"wrote {path.name}"
