"""Database access: SQLite by default, PostgreSQL at scale, one interface for both."""

from __future__ import annotations

from .base import Database
from .sqlite import SQLiteDatabase


async def open_database(url: str) -> Database:
    """Open (not yet migrate) the database a ``database_url`` names."""
    if url.startswith("sqlite:"):
        db: Database = SQLiteDatabase(url)
    elif url.startswith(("postgresql:", "postgres:")):
        from .postgres import PostgresDatabase

        db = PostgresDatabase(url)
    else:
        raise ValueError(f"unsupported database_url {url!r}: use sqlite:///PATH or postgresql://…")
    await db.open()
    return db


__all__ = ["Database", "open_database"]
