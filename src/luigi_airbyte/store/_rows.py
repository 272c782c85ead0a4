"""Store rows into record dataclasses: one rule for every table."""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import RowMapping

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")


def record_from_row(cls: type[R], row: RowMapping, **values: Any) -> R:
    """A ``cls`` whose fields are read from the row's columns of the same name.

    ``values`` give the fields that need a conversion, or whose column has another name;
    a field with neither a column nor a value keeps its default.
    """
    present = set(row.keys())
    columns = {
        name: row[name] for name in _init_fields(cls) if name in present and name not in values
    }
    return cls(**columns, **values)


@functools.cache
def _init_fields(cls: type[Any]) -> tuple[str, ...]:
    """The fields ``cls.__init__`` takes, found once per class: reading a run of 1,000
    steps built this list, and asked the row for each of its columns, 1,000 times."""
    return tuple(f.name for f in dataclasses.fields(cls) if f.init)
