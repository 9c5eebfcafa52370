"""Grain tables as CSV and summaries as JSON, written atomically."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np

from .atomic import write_text


def _cell(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return "" if not math.isfinite(value) else f"{float(value):.10g}"
    return str(value)


def table_to_csv(table: dict[str, np.ndarray]) -> str:
    """A column table -> CSV text (NaN -> empty cell, booleans -> true/false)."""
    names = list(table)
    rows = len(next(iter(table.values()))) if table else 0
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    for i in range(rows):
        writer.writerow([_cell(table[name][i]) for name in names])
    return buffer.getvalue()


def write_csv(path: Path, table: dict[str, np.ndarray]) -> None:
    write_text(Path(path), table_to_csv(table))


def read_csv(path: Path) -> dict[str, np.ndarray]:
    """Read a CSV written by :func:`write_csv` back into numeric/boolean columns."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise ValueError(f"{path} is empty: a grain table starts with a header row")
    names, body = rows[0], rows[1:]
    for number, row in enumerate(body, start=2):
        if len(row) != len(names):
            raise ValueError(f"{path}, line {number}: {len(row)} values for {len(names)} "
                             "columns")
    table = {}
    for j, name in enumerate(names):
        cells = [row[j] for row in body]
        if cells and all(c in ("true", "false") for c in cells):
            table[name] = np.array([c == "true" for c in cells])
        else:
            try:
                table[name] = np.array([float(c) if c else np.nan for c in cells])
            except ValueError:
                table[name] = np.array(cells)
    return table


def jsonable(value):
    """numpy scalars/arrays -> Python; NaN/inf -> None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: Path, data: dict) -> None:
    write_text(Path(path), json.dumps(jsonable(data), indent=2) + "\n")
