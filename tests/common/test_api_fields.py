"""The shared bounded fields: years 1970–2200, UTC, ISO 8601 with four-digit years."""

from __future__ import annotations

import datetime as dt

import pytest
from rest_framework import serializers

from common.api.fields import (
    BoundedDateField,
    BoundedDateTimeField,
    BoundedIntegerField,
    parse_query_datetime,
)
from common.bounds import format_moment


@pytest.mark.parametrize(
    "raw",
    [
        "0613-04-20T04:07:40Z",
        "0376-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "2697-08-17T14:47:15Z",
        "9628-10-26T00:00:00Z",
        "2200-12-31T23:00:00-05:00",  # 2201 in UTC
        "9999-12-31T23:00:00-05:00",  # past datetime.max in UTC
        "0001-01-01T00:00:00+05:00",  # before datetime.min in UTC
        "yesterday",
        "2026-02-30T00:00:00Z",
        "2026-11-01T00:00:00Z\x00",
        17,
    ],
)
def test_time_outside_the_supported_years_or_malformed_is_refused(raw):
    with pytest.raises(serializers.ValidationError):
        BoundedDateTimeField().run_validation(raw)


@pytest.mark.parametrize(
    ("raw", "utc"),
    [
        ("2026-11-01T00:00:00Z", dt.datetime(2026, 11, 1, tzinfo=dt.UTC)),
        ("2026-11-01T00:00:00", dt.datetime(2026, 11, 1, tzinfo=dt.UTC)),
        ("2026-11-01T05:30:15.123456+05:30:15.123456", dt.datetime(2026, 11, 1, tzinfo=dt.UTC)),
        ("2026-10-31T04:00:00-20:00", dt.datetime(2026, 11, 1, tzinfo=dt.UTC)),
        ("1970-01-01T00:00:00Z", dt.datetime(1970, 1, 1, tzinfo=dt.UTC)),
        ("2200-12-31T23:59:59Z", dt.datetime(2200, 12, 31, 23, 59, 59, tzinfo=dt.UTC)),
    ],
)
def test_time_in_range_is_kept_in_utc_whatever_offset_it_came_with(raw, utc):
    value = BoundedDateTimeField().run_validation(raw)
    assert value == utc
    assert value.utcoffset() == dt.timedelta(0)


def test_times_print_with_a_four_digit_year():
    assert format_moment(dt.datetime(613, 4, 20, 4, 7, 40, tzinfo=dt.UTC)) == "0613-04-20T04:07:40Z"
    assert BoundedDateTimeField().to_representation(
        dt.datetime(2026, 11, 1, 1, 0, 0, 500, tzinfo=dt.UTC)
    ) == "2026-11-01T01:00:00Z"


@pytest.mark.parametrize("raw", ["0376-03-01", "1969-12-31", "2201-01-01", "2026-02-30", "soon"])
def test_date_outside_the_supported_years_or_malformed_is_refused(raw):
    with pytest.raises(serializers.ValidationError):
        BoundedDateField().run_validation(raw)


def test_date_in_range_is_accepted():
    assert BoundedDateField().run_validation("2026-11-01") == dt.date(2026, 11, 1)


@pytest.mark.parametrize("raw", [-1, 2**31, 9223372036854775808, "1e400", True])
def test_default_integer_fits_a_32_bit_column(raw):
    with pytest.raises(serializers.ValidationError):
        BoundedIntegerField().run_validation(raw)


def test_integer_takes_a_tighter_range():
    field = BoundedIntegerField(max_value=3650)
    assert field.run_validation(3650) == 3650
    with pytest.raises(serializers.ValidationError):
        field.run_validation(3651)


def test_query_datetime_names_its_parameter():
    with pytest.raises(serializers.ValidationError) as error:
        parse_query_datetime("start", "0613-04-20T04:07:40Z")
    assert list(error.value.detail) == ["start"]


def test_query_datetime_reads_an_unencoded_plus_as_an_offset():
    moment = parse_query_datetime("at", "2026-11-01T01:00:00 01:00")
    assert moment == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def test_query_datetime_is_none_when_absent_and_may_require_an_offset():
    assert parse_query_datetime("at", None) is None
    assert parse_query_datetime("at", "") is None
    assert parse_query_datetime("at", "2026-11-01T00:00:00") == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    with pytest.raises(serializers.ValidationError):
        parse_query_datetime("at", "2026-11-01T00:00:00", require_offset=True)
