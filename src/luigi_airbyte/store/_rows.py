"""Store rows into record dataclasses: one rule for every table."""

from __future__ import annotations

import dataclasses
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
    columns = {
        f.name: row[f.name]
        for f in dataclasses.fields(cls)
        if f.init and f.name not in values and f.name in row
    }
    return cls(**columns, **values)
