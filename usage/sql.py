"""SQL fragments shared by the PostgreSQL paths of the rollup job and the usage selectors.

They implement the rules of ``usage/aggregation.py`` (the reference) in SQL; a change
here needs the same change there, and ``tests/usage/test_usage_totals.py`` checks both
agree.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction

from usage.aggregation import (
    COUNT,
    DIMENSIONS,
    MAX,
    MEMBER_LENGTH,
    NUMBER_PATTERN,
    PLACES,
    SUM,
)


def number(props: str, field: str) -> str:
    """``props -> field`` as numeric rounded to 12 places when it is a number by the
    reference's rules (``aggregation.to_number``), else NULL.

    The cast only runs on text the pattern accepted, so a bad string yields NULL instead
    of aborting the statement. The query must pass ``%(number_re)s``.
    """
    text = f"({props} ->> {field})"
    # round(numeric, n) rounds half away from zero, as ROUND_HALF_UP does in Python. A
    # JSON number casts straight from jsonb: the value and scale its text would give,
    # without printing and parsing it.
    return (
        f"round(CASE jsonb_typeof({props} -> {field})"
        f" WHEN 'number' THEN ({props} -> {field})::numeric"
        f" WHEN 'string' THEN CASE WHEN {text} ~ %(number_re)s THEN {text}::numeric END"
        f" END, {PLACES})"
    )


def distinct_value(props: str, field: str) -> str:
    """``props -> field`` for ``unique_count``: NULL when missing or JSON null."""
    return f"(CASE WHEN jsonb_typeof({props} -> {field}) <> 'null' THEN {props} -> {field} END)"


def aggregate(aggregation: str, props: str, field: str) -> str:
    """One metric's aggregate over the rows of a query (NULL when none has a number)."""
    if aggregation == COUNT:
        return "count(*)"
    if aggregation == SUM:
        return f"sum({number(props, field)})"
    if aggregation == MAX:
        return f"max({number(props, field)})"
    return f"count(DISTINCT {distinct_value(props, field)})"


def call_tokens(props: str) -> tuple[str, str, str]:
    """``aggregation.call_tokens``: input, output and total tokens of an event."""
    inputs, outputs, total = (number(props, f"'{name}'") for name in (
        "input_tokens", "output_tokens", "total_tokens"))
    inputs, outputs = f"coalesce({inputs}, 0)", f"coalesce({outputs}, 0)"
    return inputs, outputs, f"coalesce({total}, {inputs} + {outputs})"


def slice_keys(event: str) -> str:
    """``aggregation.slice_keys`` as a LATERAL join giving ``k.dimension, k.member``.

    ``event`` names a row with ``model``, ``seat`` and ``properties``.
    """
    def prop(name: str) -> str:
        value = f"{event}.properties -> '{name}'"
        return (f"CASE WHEN jsonb_typeof({value}) = 'string'"
                f" THEN left({event}.properties ->> '{name}', {MEMBER_LENGTH}) ELSE '' END")

    members = {"model": f"{event}.model", "seat": f"{event}.seat",
               "latency_tier": prop("latency_tier"), "initiated_by": prop("initiated_by")}
    assert tuple(members) == DIMENSIONS
    values = ", ".join(f"('{name}', {member})" for name, member in members.items())
    return (f"CROSS JOIN LATERAL (SELECT * FROM (VALUES ('', ''), {values})"
            " AS v(dimension, member) WHERE v.dimension = '' OR v.member <> '') AS k")


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
