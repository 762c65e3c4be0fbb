"""SQL fragments shared by the PostgreSQL paths of the rollup job and the usage selectors.

They implement the rules of ``usage/aggregation.py`` (the reference) in SQL; a change
here needs the same change there, and ``tests/usage/test_usage_totals.py`` checks both
agree.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction

from usage.aggregation import NUMBER_PATTERN, PLACES


def number(props: str, field: str) -> str:
    """``props -> field`` as numeric rounded to 12 places when it is a number by the
    reference's rules (``aggregation.to_number``), else NULL.

    The cast only runs on text the pattern accepted, so a bad string yields NULL instead
    of aborting the statement. The query must pass ``%(number_re)s``.
    """
    text = f"({props} ->> {field})"
    # round(numeric, n) rounds half away from zero, as ROUND_HALF_UP does in Python.
    return (
        f"round(CASE jsonb_typeof({props} -> {field})"
        f" WHEN 'number' THEN {text}::numeric"
        f" WHEN 'string' THEN CASE WHEN {text} ~ %(number_re)s THEN {text}::numeric END"
        f" END, {PLACES})"
    )


def distinct_value(props: str, field: str) -> str:
    """``props -> field`` for ``unique_count``: NULL when missing or JSON null."""
    return f"(CASE WHEN jsonb_typeof({props} -> {field}) <> 'null' THEN {props} -> {field} END)"


def hour_of(column: str) -> str:
    return f"date_trunc('hour', {column}, 'UTC')"


COMMON_PARAMS = {"number_re": NUMBER_PATTERN}


def fetch_rows(sql: str, params: dict) -> list[tuple]:
    """Runs one of these statements with JIT off, then puts the caller's setting back.

    Their cost estimates (CTEs, LATERAL loops) cross ``jit_above_cost`` although they run
    in milliseconds; compiling them took 2 s of a 3 s query in our benchmark.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('jit')")
        (previous,) = cursor.fetchone()
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, {**COMMON_PARAMS, **params})
        rows = cursor.fetchall()
        # SET LOCAL outlives a savepoint's release: restore it for the caller's transaction.
        cursor.execute("SELECT set_config('jit', %s, true)", [previous])
        return rows


def as_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("usage times must be timezone-aware")
    return moment.astimezone(dt.UTC)
