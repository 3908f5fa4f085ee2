"""Column tables: text and CSV as pandas writes them, DataFrames as the API returned them."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from motifs.table import ColumnTable, format_text, write_csv


def random_table(seed: int, n_rows: int) -> ColumnTable:
    """Text of 0-12 characters (empty ones too), signed integers of 1-7 digits, booleans."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcXYZ;_-0123456789"))
    words = ["".join(rng.choice(letters, rng.integers(0, 13))) for _ in range(n_rows)]
    return ColumnTable({
        "motif": np.array(words, dtype=object),
        "count": rng.integers(-10 ** rng.integers(1, 7), 10 ** 7, n_rows),
        "n": rng.integers(0, 3, n_rows),
        "a_long_header": np.array(rng.choice(["", "x"], n_rows), dtype=object),
        "flag": rng.random(n_rows) < 0.5,
    })


@pytest.mark.parametrize("seed", range(6))
def test_text_layout_is_pandas_to_string_without_index(seed):
    table = random_table(seed, n_rows=1 + seed * 3)
    assert format_text(table) == table.to_frame().to_string(index=False)


def test_text_layout_refuses_floats():
    with pytest.raises(TypeError, match="'z' holds floats"):
        format_text(ColumnTable({"z": np.array([0.5])}))


def test_csv_bytes_are_pandas_to_csv(tmp_path):
    table = random_table(7, n_rows=20)
    rng = np.random.default_rng(8)
    floats = rng.normal(0, 10.0 ** rng.integers(-6, 18, 20))
    floats[[0, 5]] = np.nan
    floats[[1, 2]] = np.inf, -0.0
    table.data["z"] = floats
    table.data["dependent_on"] = np.array(['a,b', 'say "x"', "", " "] + ["021U;030T"] * 16,
                                          dtype=object)
    path = tmp_path / "t.csv"
    write_csv(table, path)
    assert path.read_text() == table.to_frame().to_csv(index=False)


def test_groups_keep_the_order_of_first_appearance():
    table = ColumnTable({"graph": np.array(["g2", "g1", "g2", "g3", "g1"], dtype=object)})
    assert [rows.tolist() for rows in table.groups("graph")] == [[0, 2], [1, 4], [3]]
    assert ColumnTable({"graph": np.array([], dtype=object)}).groups("graph") == []


def test_frame_round_trip_keeps_columns_dtypes_and_attrs():
    frame = pd.DataFrame({"motif": ["030T", "021C"], "count": [4, 0], "z": [1.5, np.nan],
                          "zero_variance": [False, True]})
    frame.attrs = {"identities": ["030T + 021C = const"]}
    back = ColumnTable.from_frame(frame)
    assert back["motif"].dtype == object and back.attrs == frame.attrs
    pd.testing.assert_frame_equal(back.to_frame(), frame)
    both = ColumnTable.concat([back, back.rows(np.array([1]))])
    assert both["motif"].tolist() == ["030T", "021C", "021C"]
    assert pd.read_csv(io.StringIO(both.to_frame().to_csv(index=False)))["count"].tolist() == \
        [4, 0, 0]
