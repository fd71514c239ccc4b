"""Loading the generated JSON data files of this package (see ``_generate.py``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

Rows = tuple[tuple[object, ...], ...]


class DataFile:
    """One generated JSON file: named tables (a list of rows each) and mappings."""

    def __init__(self, name: str) -> None:
        with (Path(__file__).parent / name).open(encoding="utf-8") as handle:
            self._data: dict[str, Any] = json.load(handle)

    def rows(self, key: str) -> Rows:
        return tuple(tuple(row) for row in self._data[key])

    def mapping(self, key: str) -> dict[str, int]:
        return dict(self._data[key])
