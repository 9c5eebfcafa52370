"""Grain statistics dock widget: a sortable grain table, histograms, summary, CSV export."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, FileEdit, FloatSpinBox, Label, PushButton
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QAbstractItemView, QTableWidget, QTableWidgetItem

from ..jobs import Progress
from ..units import UNIT_CHOICES, PixelSize
from ._base import JobWidget
from ._layers import as_features, layer_pixel_size
from ._plots import clear, make_canvas

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


class GrainStatsWidget(JobWidget):
    """Table, histograms and summary of a Labels layer's grains; export to CSV."""

    title = "Grain statistics"

    def __init__(self, viewer: napari.viewer.Viewer):
        w_labels = ComboBox(choices=self.layers_of("labels"), label="grains layer")
        w_pixel_size = FloatSpinBox(value=0.0, min=0, max=1e6, step=0.01, label="pixel size",
                                    tooltip="used when the layer carries none (0 = px only)")
        w_unit = ComboBox(choices=UNIT_CHOICES, value="um", label="unit")
        w_include_border = CheckBox(value=False, text="include grains touching the edge "
                                    "in the summary")
        w_measure = PushButton(text="Measure grains")
        w_summary = Label(value="")
        w_csv = FileEdit(mode="w", filter="*.csv", label="CSV file")
        w_export = PushButton(text="Export CSV")
        parts = {k[2:]: v for k, v in locals().items() if k.startswith("w_")}
        super().__init__(viewer, parts, ["measure", "export"])
        self.table = QTableWidget()
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setMinimumHeight(180)
        self.table.itemSelectionChanged.connect(self._select_grain)
        self.canvas, self.figure = make_canvas(1, 3)
        self.native.layout().addWidget(self.table)
        self.native.layout().addWidget(self.canvas)
        self._result = None
        self._layer = None
        self.measure.changed.connect(self._start)
        self.export.changed.connect(self._export)
        self.labels.changed.connect(self._layer_chosen)
        self.update_buttons()
        if self.labels.value is not None:  # opened beside a Labels layer: show it at once
            self._start()

    def reset_choices(self, *args) -> None:
        super().reset_choices(*args)
        self.update_buttons()

    def update_buttons(self) -> None:
        if not self.busy:
            self.measure.enabled = self.labels.value is not None
            self.export.enabled = self._result is not None

    def _layer_chosen(self, layer) -> None:
        self.update_buttons()
        if layer is not None and layer is not self._layer:
            self._start()

    def _pixel_size(self, layer) -> PixelSize | None:
        stored = layer.metadata.get("pixel_size")
        if stored:
            return PixelSize(stored["value"], stored["unit"], stored.get("source", "layer"))
        return layer_pixel_size(layer, self.pixel_size.value, self.unit.value)

    def _start(self) -> None:
        layer = self.labels.value
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
                     lambda result: self._show(layer, size, result),
                     f"measuring '{layer.name}'")

    def _show(self, layer, size, result) -> None:
        table, summary, growth = result
        self._result, self._layer = (table, summary, growth, size, layer), layer
        layer.features = table  # other plugins can use it; rows map to ids via `index`
        self._fill_table(table, size)
        self._plot(table, growth, size)
        u = size.unit if size else "px"
        ecd = summary.get(f"mean_equivalent_diameter_{u}", summary["mean_equivalent_diameter_px"])
        g = summary["astm_g_planimetric"]
        self.summary.value = (f"{summary['grains']} grains (+{summary['grains_touching_border']} "
                              f"at the edge), mean ECD {ecd:.3g} {u}"
                              + ("" if g is None else f", ASTM G {g:.1f}"))
        self.update_buttons()

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
        self.table.setHorizontalHeaderLabels(names)
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
        u = size.unit if size else "px"
        area = f"area_{u}2" if size else "area_px"
        keep = ~table["touches_border"] if not self.include_border.value else slice(None)
        ax_area, ax_circ, ax_growth = clear(self.figure)
        ax_area.hist(table[area][keep], bins=25, color="#4477aa")
        ax_area.set_xlabel(f"area ({u}²)" if size else "area (px)")
        ax_circ.hist(table["circularity"][keep], bins=25, range=(0, 1), color="#66ccee")
        ax_circ.set_xlabel("circularity")
        if growth is not None:
            d = f"equivalent_diameter_{u}" if size else "equivalent_diameter_px"
            ax_growth.errorbar(growth["frame"], growth[f"mean_{d}"], yerr=growth[f"std_{d}"],
                               marker="o", ms=3, capsize=2)
            ax_growth.set_xlabel("frame")
            ax_growth.set_ylabel(f"mean ECD ({u})")
        else:
            ax_growth.set_axis_off()
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
        self._viewer.camera.center = tuple(centre * np.asarray(layer.scale)[-2:]
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
