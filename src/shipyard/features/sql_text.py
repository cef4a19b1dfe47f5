"""Names and values written into DuckDB SQL text: the one place they are quoted, so that a
column named `select` or a table path with a quote in it cannot change a query's meaning."""

from __future__ import annotations

__all__ = ["identifier", "literal"]


def identifier(name: str) -> str:
    """An SQL identifier quoted for DuckDB, whatever characters it holds."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A string literal for DuckDB."""
    return "'" + text.replace("'", "''") + "'"
