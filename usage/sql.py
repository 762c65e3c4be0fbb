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


def number(value: str, *, keep_scale: bool = True) -> str:
    """A JSON value (a jsonb expression) as numeric at most 12 places when it is a number
    by the reference's rules (``aggregation.to_number``), else NULL.

    ``value`` is evaluated up to four times: pass a column that holds ``props -> field``
    (one lookup per event) rather than the lookup itself. A JSON number casts straight
    from jsonb (the value and scale its text would give) and is rounded only when it has
    more than 12 places: rounding the others changes no value and costs as much as the
    rest. The cast of a string only runs on text the pattern accepted, so a bad string
    yields NULL instead of aborting the statement. The query must pass ``%(number_re)s``.
    """
    cast, text = f"({value})::numeric", f"({value} #>> '{{}}')"
    # round(numeric, n) rounds half away from zero, as ROUND_HALF_UP does in Python.
    rounded = (f"CASE WHEN scale({cast}) > {PLACES} THEN round({cast}, {PLACES}) ELSE {cast} END"
               if keep_scale else f"round({cast}, {PLACES})")
    return (
        f"CASE jsonb_typeof({value})"
        f" WHEN 'number' THEN {rounded}"
        f" WHEN 'string' THEN CASE WHEN {text} ~ %(number_re)s"
        f" THEN round({text}::numeric, {PLACES}) END"
        " END"
    )


def distinct(value: str) -> str:
    """A JSON value (a jsonb expression) for ``unique_count``: NULL when missing or JSON null."""
    return f"(CASE WHEN jsonb_typeof({value}) <> 'null' THEN {value} END)"


def distinct_value(props: str, field: str) -> str:
    """``props -> field`` for ``unique_count`` (see :func:`distinct`)."""
    return distinct(f"({props} -> {field})")


def aggregate(aggregation: str, number: str, distinct: str = "") -> str:
    """One metric's aggregate over the rows of a query (NULL when none has a number), given
    the row's number (:func:`number`) or, for unique_count, distinct value."""
    if aggregation == COUNT:
        return "count(*)"
    if aggregation == SUM:
        return f"sum({number})"
    if aggregation == MAX:
        return f"max({number})"
    return f"count(DISTINCT {distinct})"


TOKEN_FIELDS = ("input_tokens", "output_tokens", "total_tokens")


def token_values(props: str) -> str:
    """SELECT-list items ``v_input_tokens, v_output_tokens, v_total_tokens``: the JSON
    values :func:`call_tokens` reads, looked up once."""
    return ", ".join(f"{props} -> '{name}' AS v_{name}" for name in TOKEN_FIELDS)


def call_tokens(row: str) -> tuple[str, str, str]:
    """``aggregation.call_tokens``: input, output and total tokens of an event, from the
    columns :func:`token_values` gave ``row``."""
    inputs, outputs, total = (number(f"{row}.v_{name}") for name in TOKEN_FIELDS)
    inputs, outputs = f"coalesce({inputs}, 0)", f"coalesce({outputs}, 0)"
    return inputs, outputs, f"coalesce({total}, {inputs} + {outputs})"


def member(event: str, dimension: str) -> str:
    """``aggregation.member_of``: the value of one event row (with ``model``, ``seat`` and
    ``properties``) in a breakdown dimension, "" when it has none."""
    if dimension in ("model", "seat"):
        return f"{event}.{dimension}"
    value = f"{event}.properties -> '{dimension}'"
    return (f"CASE WHEN jsonb_typeof({value}) = 'string'"
            f" THEN left({event}.properties ->> '{dimension}', {MEMBER_LENGTH}) ELSE '' END")


def slice_keys(row: str) -> str:
    """``aggregation.slice_keys`` as a LATERAL join giving ``k.dimension, k.member``, for a
    row with one column per dimension holding its member (see :func:`member`)."""
    values = ", ".join(f"('{name}', {row}.{name})" for name in DIMENSIONS)
    return (f"CROSS JOIN LATERAL (SELECT * FROM (VALUES ('', ''), {values})"
            " AS v(dimension, member) WHERE v.dimension = '' OR v.member <> '') AS k")


def day_of(column: str) -> str:
    return f"date_trunc('day', {column}, 'UTC')"


def hour_of(column: str) -> str:
    return f"date_trunc('hour', {column}, 'UTC')"


COMMON_PARAMS = {"number_re": NUMBER_PATTERN}


# Reads of one customer aggregate up to a backfill's worth of raw events (200,000 rows);
# the default 4 MB sent their sorts and hashes to disk.
READ_WORK_MEM = "64MB"


def fetch_rows(sql: str, params: dict, *, work_mem: str | None = None) -> list[tuple]:
    """Runs one of these statements with JIT off (and ``work_mem`` if given), then puts
    the caller's settings back.

    Their cost estimates (CTEs, LATERAL loops) cross ``jit_above_cost`` although they run
    in milliseconds; compiling them took 2 s of a 3 s query in our benchmark.
    """
    settings = {"jit": "off"} if work_mem is None else {"jit": "off", "work_mem": work_mem}
    outermost = not connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(
            "current_setting(%s), set_config(%s, %s, true)" for _ in settings
        ), [arg for name, value in settings.items() for arg in (name, name, value)])
        previous = cursor.fetchone()[::2]
        cursor.execute(sql, {**COMMON_PARAMS, **params})
        rows = cursor.fetchall()
        if not outermost:
            # SET LOCAL outlives a savepoint's release: restore them for the caller's
            # transaction (our own transaction's end resets them).
            cursor.execute("SELECT " + ", ".join("set_config(%s, %s, true)" for _ in settings),
                           [arg for name, old in zip(settings, previous, strict=True)
                            for arg in (name, old)])
        return rows


def as_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("usage times must be timezone-aware")
    return moment.astimezone(dt.UTC)
