"""A batch column as its distinct values plus, for each row, the index of its value.

Logs repeat themselves: a batch of 50,000 events holds a few hundred user agents, a few
thousand users and mostly absent properties. Silver's field actions are Python functions of
one value (a pseudonym, a URL template, a user agent's family), so they run once per distinct
value here, and rows are put back together by Arrow (`take`) instead of a Python loop per row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


@dataclass
class Factorized:
    """`values[indices[row]]` is the value of `row`; values may repeat and include None."""

    values: list
    indices: np.ndarray

    @property
    def rows(self) -> int:
        """How many rows the column has."""
        return len(self.indices)

    def map(self, action: Callable[[object], object]) -> Factorized:
        """`action` of every row's value, computed once per distinct value."""
        return Factorized([action(v) for v in self.values], self.indices)

    def with_values(self, values: list) -> Factorized:
        """The same rows over replaced distinct values (one per value, in order)."""
        if len(values) != len(self.values):
            raise ValueError(f"{len(values)} values for {len(self.values)} distinct values")
        return Factorized(values, self.indices)

    def counts(self) -> np.ndarray:
        """How many rows hold each distinct value."""
        return np.bincount(self.indices, minlength=len(self.values))

    def to_arrow(self, type: pa.DataType) -> pa.Array:
        """The column, one value per row, as an Arrow array of `type`."""
        return pc.take(pa.array(self.values, type=type), pa.array(self.indices))

    def to_pylist(self) -> list:
        """The column, one value per row, as a Python list (for tests and small batches)."""
        return [self.values[i] for i in self.indices.tolist()]


def from_arrow(column: pa.Array | pa.ChunkedArray) -> Factorized:
    """Factorize an Arrow column (nulls become a None value)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    encoded = pc.dictionary_encode(array, null_encoding="encode")
    indices = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return Factorized(encoded.dictionary.to_pylist(), indices)


def from_values(values: Sequence[object]) -> Factorized:
    """Factorize Python values: equal values of the same type share an index (1, 1.0 and
    True stay apart, as the field actions treat them differently, and so do 0.0 and -0.0,
    which a kept string spells differently); lists and dicts are compared by content."""
    slots: dict[object, int] = {}
    distinct: list = []
    indices = np.empty(len(values), dtype=np.int64)
    for row, value in enumerate(values):
        key = value_key(value)
        slot = slots.get(key)
        if slot is None:
            slot = slots[key] = len(distinct)
            distinct.append(value)
        indices[row] = slot
    return Factorized(distinct, indices)


def sparse(rows: int, present: Sequence[int], values: Sequence[object]) -> Factorized:
    """A column of `rows` rows holding `values` at the rows `present` and None elsewhere."""
    found = from_values(values)
    indices = np.zeros(rows, dtype=np.int64)
    if len(present):
        indices[np.asarray(present, dtype=np.int64)] = found.indices + 1
    return Factorized([None, *found.values], indices)


def value_key(value: object) -> object:
    """A hashable key under which two values are the same value for a field action."""
    if type(value) is str:
        return value
    if isinstance(value, dict | list):
        return (dict, _frozen(value))
    if isinstance(value, float):
        return (float, repr(value))
    return (type(value), value)


def _frozen(value: object) -> object:
    if isinstance(value, dict):
        return tuple((k, _frozen(v)) for k, v in value.items())
    if isinstance(value, list):
        return ("list", *(_frozen(v) for v in value))
    return value_key(value)
