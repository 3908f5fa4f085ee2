"""Column tables: the engine's results as ordered numpy columns, before pandas.

The motif engine assembles its tables (a graph's profile, a run's table) as a
:class:`ColumnTable` and turns them into a pandas DataFrame once, where the
public API returns one (:meth:`ColumnTable.to_frame`). ``cgram motifs
--edges`` prints and writes the table without importing pandas, which with
pyarrow is most of a fresh process's start-up: :func:`format_text` lays a
table out as ``DataFrame.to_string(index=False)`` does, :func:`write_csv`
writes the bytes of ``DataFrame.to_csv(index=False)`` (tests compare both).
"""

from __future__ import annotations

import csv
import math
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


def is_pandas(value: Any, kind: str) -> bool:
    """Whether ``value`` is a pandas ``kind`` (``"Series"``, ``"DataFrame"``).

    Without importing pandas: a process that has not imported it holds none.

    Examples
    --------
    >>> is_pandas(np.zeros(2), "Series")
    False
    """
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, getattr(pandas, kind))


@dataclass
class ColumnTable:
    """Ordered, named 1-D numpy columns of one length, and ``attrs`` (as a DataFrame's).

    Text columns are object arrays of str.

    Examples
    --------
    >>> table = ColumnTable({"motif": np.array(["030T", "021C"], dtype=object),
    ...                      "count": np.array([4, 0])}, {"null": "config"})
    >>> len(table), table.columns, table.rows(table["count"] > 0)["motif"].tolist()
    (2, ['motif', 'count'], ['030T'])
    """

    data: dict[str, np.ndarray]
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return list(self.data)

    def __len__(self) -> int:
        return len(next(iter(self.data.values()))) if self.data else 0

    def __getitem__(self, name: str) -> np.ndarray:
        return self.data[name]

    def __contains__(self, name: object) -> bool:
        return name in self.data

    def rows(self, index: np.ndarray) -> ColumnTable:
        """The rows ``index`` (a boolean mask or positions) of every column; attrs kept."""
        return ColumnTable({name: col[index] for name, col in self.data.items()},
                           dict(self.attrs))

    def groups(self, name: str) -> list[np.ndarray]:
        """Row positions of each value of column ``name``, values in order of first appearance.

        Examples
        --------
        >>> table = ColumnTable({"graph": np.array(["b", "a", "b"], dtype=object)})
        >>> [g.tolist() for g in table.groups("graph")]
        [[0, 2], [1]]
        """
        if not len(self):
            return []
        _, first, inverse = np.unique(self.data[name], return_index=True, return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        parts = np.split(order, np.cumsum(np.bincount(inverse))[:-1])
        return [parts[i] for i in np.argsort(first, kind="stable")]

    @classmethod
    def concat(cls, tables: Sequence[ColumnTable]) -> ColumnTable:
        """The rows of ``tables`` one after the other (their columns are the first's)."""
        names = tables[0].columns
        return cls({name: np.concatenate([t.data[name] for t in tables]) for name in names})

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> ColumnTable:
        """A DataFrame's columns as numpy arrays (text as object arrays), its attrs kept."""
        return cls({str(name): frame[name].to_numpy() for name in frame.columns},
                   dict(frame.attrs))

    def to_frame(self) -> pd.DataFrame:
        """The table as a pandas DataFrame (text columns become pandas' string dtype)."""
        import pandas as pd

        frame = pd.DataFrame(self.data)
        frame.attrs = dict(self.attrs)
        return frame


def format_text(table: ColumnTable) -> str:
    """The table as ``DataFrame.to_string(index=False)`` lays it out.

    Every column right-aligned to its widest entry or header, one space
    between columns; the header of a number column has a space in front (as
    pandas leaves room for a sign). For text, integer and boolean columns
    (format floats first: pandas' float layout is not reproduced).

    Examples
    --------
    >>> print(format_text(ColumnTable({"motif": np.array(["030T", "021C"], dtype=object),
    ...                                "count": np.array([4, -12])})))
    motif  count
     030T      4
     021C    -12
    """
    cells = []
    for name, col in table.data.items():
        if col.dtype.kind in "fc":
            raise TypeError(f"column {name!r} holds floats: format them as text first")
        header = " " + name if col.dtype.kind in "iub" else name
        text = [str(v) for v in col.tolist()]
        width = max([len(header)] + [len(t) for t in text])
        cells.append([header.rjust(width)] + [t.rjust(width) for t in text])
    return "\n".join(" ".join(row) for row in zip(*cells))


def _csv_cell(value: Any) -> Any:
    # pandas writes NaN as an empty field and floats as their shortest repr (numpy's str)
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return "" if value is None else value


def write_csv(table: ColumnTable, path: str | os.PathLike[str]) -> None:
    """Write the table as ``DataFrame.to_csv(path, index=False)`` writes it.

    Raises
    ------
    OSError
        The file cannot be written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> write_csv(ColumnTable({"motif": np.array(["030T"], dtype=object),
    ...                        "z": np.array([np.nan]), "ok": np.array([True])}), path)
    >>> path.read_text()
    'motif,z,ok\\n030T,,True\\n'
    """
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(table.columns)
        columns = [col.tolist() for col in table.data.values()]
        writer.writerows([_csv_cell(v) for v in row] for row in zip(*columns))
