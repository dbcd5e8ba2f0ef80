"""Columns as distinct values plus indices: every row gets what a loop per row would give."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from deidentify.derived import derived_array, derived_values
from deidentify.factorized import from_arrow, from_values, sparse


def test_from_arrow_keeps_every_row_and_null() -> None:
    rows = ["a", None, "b", "a", None, "c"]
    column = from_arrow(pa.chunked_array([rows[:2], rows[2:]]))
    assert column.to_pylist() == rows
    assert sorted(column.values, key=str) == sorted(["a", None, "b", "c"], key=str)
    assert column.counts().tolist() == [rows.count(v) for v in column.values]


def test_from_arrow_reads_dictionary_columns() -> None:
    array = pa.array(["x", "y", None, "x"]).dictionary_encode()
    assert from_arrow(array).to_pylist() == ["x", "y", None, "x"]


def test_equal_values_of_different_types_stay_apart() -> None:
    rows = [1, 1.0, True, "1", [1], {"a": 1}, [1], {"a": 1}, None, 1]
    column = from_values(rows)
    assert column.to_pylist() == rows
    assert [type(v) for v in column.to_pylist()] == [type(v) for v in rows]
    assert len(column.values) == 7
    kept = column.map(lambda v: v if isinstance(v, int) and not isinstance(v, bool) else None)
    assert kept.to_pylist() == [1, None, None, None, None, None, None, None, None, 1]


def test_sparse_column_holds_values_at_their_rows_only() -> None:
    column = sparse(6, [1, 4], ["x", "x"])
    assert column.to_pylist() == [None, "x", None, None, "x", None]
    assert sparse(3, [], []).to_pylist() == [None, None, None]


def test_arrow_output() -> None:
    column = from_values(["a", "b", "a", "b", None])
    assert column.to_pylist() == ["a", "b", "a", "b", None]
    assert column.to_arrow(pa.string()).to_pylist() == ["a", "b", "a", "b", None]


def test_with_values_must_replace_each_distinct_value() -> None:
    with pytest.raises(ValueError, match="distinct values"):
        from_values(["a", "b"]).with_values(["x"])


def test_map_equals_a_loop_per_row_on_random_columns() -> None:
    rng = random.Random(7)
    pool = ["", "a", "B", None, 0, 1, 2.5, True, False, [1, 2], {"k": "v"}, "a"]
    for _ in range(200):
        rows = [rng.choice(pool) for _ in range(rng.randrange(0, 40))]
        column = from_values(rows)
        assert column.map(repr).to_pylist() == [repr(v) for v in rows]
        assert int(column.counts().sum()) == len(rows)


def test_derived_array_equals_derived_values() -> None:
    rng = random.Random(11)
    hosts = [None, "", "10.0.0.1", "2001:db8::1", "h|x", "é"]
    agents = [None, "", "Mozilla/5.0", "a|b", "ü"]
    for _ in range(100):
        n = rng.randrange(0, 30)
        host = [rng.choice(hosts) for _ in range(n)]
        agent = [rng.choice(agents) for _ in range(n)]
        arrays = [pa.array(host, pa.string()), pa.array(agent, pa.string())]
        assert derived_array(arrays).to_pylist() == derived_values([host, agent])


def test_derived_array_of_other_types_falls_back_to_the_loop() -> None:
    parts = [pa.array(["h", None]), pa.array([1, 2])]
    assert derived_array(parts).to_pylist() == ["h|1", None]


def test_zero_and_negative_zero_stay_apart() -> None:
    """A kept string spells them differently ('0.0', '-0.0'): one must not take the other's."""
    rows = [0.0, -0.0, [0.0], [-0.0], -0.0]
    assert [repr(v) for v in from_values(rows).map(repr).to_pylist()] == [
        repr(repr(v)) for v in rows
    ]
