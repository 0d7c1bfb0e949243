"""What a `delete` event does to a stored document (docs/webhooks.md#deletes): the archive row
in `oura_documents` stays, marked `deleted_at`, and the typed row goes, so the views built on
the typed tables (0002) and the API stop showing it. A later create/update of the same id
(newer `event_time`) stores the document again and clears the mark."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection, sql

from myhealth.oura.catalog import DataType


async def mark_deleted(conn: AsyncConnection[Any], data_type: DataType, object_id: str) -> bool:
    """Mark the archived document deleted and drop its typed row; False when we never had it."""
    cursor = await conn.execute(
        "UPDATE oura_documents SET deleted_at = coalesce(deleted_at, now())"
        " WHERE data_type = %s AND id = %s RETURNING document",
        (data_type.name, object_id),
    )
    row = await cursor.fetchone()
    document = row[0] if row is not None else {"id": object_id}
    if not isinstance(document, dict) or any(key not in document for key in data_type.key):
        return row is not None
    condition = sql.SQL(" AND ").join(
        sql.SQL("{} = %s").format(sql.Identifier(key)) for key in data_type.key
    )
    await conn.execute(
        sql.SQL("DELETE FROM {} WHERE {}").format(sql.Identifier(data_type.table), condition),
        [document[key] for key in data_type.key],
    )
    return row is not None


async def clear_deleted(conn: AsyncConnection[Any], data_type: DataType, object_id: str) -> None:
    """The document exists again (a newer create/update): no longer hidden."""
    await conn.execute(
        "UPDATE oura_documents SET deleted_at = NULL"
        " WHERE data_type = %s AND id = %s AND deleted_at IS NOT NULL",
        (data_type.name, object_id),
    )
