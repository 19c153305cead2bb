"""What the SQL parse (assets/rules/sql_lineage.py) finds, as plain data: a model's column lineage and the error of a
model that cannot be read. No parser here, so the SQL-model factory can use a stored parse (pipelines/sql_models.py)
without importing sqlglot."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

Table = tuple[str, str]  # (layer, table)
Column = tuple[str, str, str]  # (layer, table, column)


class SqlModelError(ValueError):
    """A SQL model that cannot be read: unparseable, a table without its layer, a table that is not an asset."""


@dataclass(frozen=True)
class ColumnLineage:
    """Each output column, in output order, with the upstream columns it is computed from (sorted; empty for a
    literal, a parameter or a row count); `unresolved`: output columns with a reference the parse could not place
    (an unqualified column beside two sources of unknown columns), each with that reference."""

    columns: dict[str, tuple[Column, ...]]
    unresolved: dict[str, tuple[str, ...]]


def trace_to_inputs(lineage_by_table: Mapping[Table, ColumnLineage], column: Column) -> set[Column]:
    """The columns of tables no SQL model builds (raw inputs, Python-built tables) that `column` is computed from,
    following the SQL models back; a column computed from no column traces to nothing."""
    result: set[Column] = set()
    stack, seen = [column], set()
    while stack:
        layer, table, name = stack.pop()
        model = lineage_by_table.get((layer, table))
        for dependency in model.columns.get(name, ()) if model else ():
            if dependency in seen:
                continue
            seen.add(dependency)
            if dependency[:2] in lineage_by_table:
                stack.append(dependency)
            else:
                result.add(dependency)
    return result
