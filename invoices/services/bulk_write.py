"""Inserting many invoices and lines fast.

Rows are plain dicts keyed by field attname; columns a row leaves out get the field's
default, ``auto_now``/``auto_now_add`` columns get the time of the insert. On PostgreSQL
they go in with COPY (through a temporary table for invoices, so the insert keeps
ON CONFLICT DO NOTHING on the one-invoice-per-period constraint and reports which rows
it inserted); elsewhere Django's ``bulk_create`` does the same job. Preparing values
with psycopg's own adapters instead of Django's per-field preparation is what makes a
10,000-invoice run save in well under a second. The immutability triggers still run for
every line on PostgreSQL; these rows all belong to drafts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection, models
from django.utils import timezone

from invoices.models import Invoice, InvoiceLine

_NEW_INVOICES = "invoices_new_invoice"

Row = dict[str, Any]


def _column_makers(model: type[models.Model], *, skip_pk: bool) -> list[tuple[str, Callable]]:
    """Per column: its name and how to get its value from a row (at a given time)."""
    makers = []
    for field in model._meta.concrete_fields:
        if skip_pk and field.primary_key:
            continue
        name = field.attname
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            makers.append((field.column, lambda row, stamp: stamp))
        elif isinstance(field, models.JSONField):
            makers.append((field.column, lambda row, stamp, n=name, f=field: json.dumps(
                row[n] if n in row else f.get_default(), cls=f.encoder)))
        else:
            makers.append((field.column, lambda row, stamp, n=name, f=field: (
                row[n] if n in row else f.get_default())))
    return makers


def _copy(cursor, table: str, makers, rows: Sequence[Row]) -> None:
    stamp = timezone.now()
    columns = ", ".join(connection.ops.quote_name(column) for column, _ in makers)
    with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([make(row, stamp) for _, make in makers])


def insert_invoices(rows: Sequence[Row]) -> set:
    """Insert the invoices that do not conflict; returns the ids actually inserted."""
    if not rows:
        return set()
    if connection.vendor != "postgresql":
        Invoice.objects.bulk_create([Invoice(**row) for row in rows], ignore_conflicts=True,
                                    batch_size=500)
        return set(Invoice.objects.filter(pk__in=[r["id"] for r in rows])
                   .values_list("pk", flat=True))
    makers = _column_makers(Invoice, skip_pk=False)
    columns = ", ".join(connection.ops.quote_name(column) for column, _ in makers)
    table = Invoice._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {_NEW_INVOICES} (LIKE {table}) "
                       "ON COMMIT DELETE ROWS")
        cursor.execute(f"TRUNCATE {_NEW_INVOICES}")
        _copy(cursor, _NEW_INVOICES, makers, rows)
        cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {_NEW_INVOICES} "
                       "ON CONFLICT DO NOTHING RETURNING id")
        inserted = {row[0] for row in cursor.fetchall()}
        cursor.execute(f"TRUNCATE {_NEW_INVOICES}")
    return inserted


def insert_lines(rows: Sequence[Row]) -> None:
    if not rows:
        return
    if connection.vendor != "postgresql":
        InvoiceLine.objects.bulk_create([InvoiceLine(**row) for row in rows], batch_size=2000)
        return
    with connection.cursor() as cursor:
        _copy(cursor, InvoiceLine._meta.db_table, _column_makers(InvoiceLine, skip_pk=True), rows)
