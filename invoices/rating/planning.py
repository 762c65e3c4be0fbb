"""Which invoices a billing run makes (SPEC 1, 3, 4): pure planning over plain contract data.

A contract's *calendar* (anchor, interval, term) gives its periods; a period is due once
it has ended by the run's cutoff (``as_of`` minus the grace time) and has no invoice yet.
The version a period is rated on is the one in force at its start: the latest scheduled
migration effective by then, else the pinned version. A contract with more periods due
than the run's cap is refused, and so is all the rest of its customer's work, since a
customer's invoices hang together through late usage.

No ORM, no clock, no settings: ``invoices.selectors.billing_load`` loads the contracts
and the keys of existing invoices, and passes the cutoff and the cap in.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from invoices.rating.types import SeatSpan
from plans.periods import Period, period_containing, periods_between

ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Calendar:
    """When a contract bills: periods anchored on ``anchor`` that start within its term
    ``[start, end + 1 day)`` (``end`` None: evergreen)."""

    anchor: dt.date
    interval: str  # migrations are refused across intervals, so the pin's holds for the term
    start: dt.date
    end: dt.date | None

    def periods(self, *, until: dt.date | None = None) -> tuple[Period, ...]:
        """The periods, oldest first; with ``until``, those that end on or before it."""
        return term_periods(anchor=self.anchor, interval=self.interval, start=self.start,
                            end_date=self.end, until=until)

    def period_containing(self, day: dt.date) -> Period:
        return period_containing(self.anchor, self.interval, day)


@dataclass(frozen=True)
class Migration:
    """A scheduled move to another version, in force for periods starting on or after
    ``effective_date``."""

    effective_date: dt.date
    version_id: int


@dataclass(frozen=True)
class ContractTerms:
    """One contract as a billing run sees it."""

    contract_id: int
    customer_id: int
    status: str
    calendar: Calendar
    version_id: int  # the pinned version
    # The negotiated terms as stored on each invoice (JSON values), sorted by name: a
    # hashable key for the terms they give.
    overrides: tuple[tuple[str, str | int | None], ...] = ()
    migrations: tuple[Migration, ...] = ()  # scheduled ones, by effective date

    def version_for(self, period: Period) -> int:
        """SPEC 3: the id of the version in force at the period's start."""
        version = self.version_id
        for migration in self.migrations:
            if migration.effective_date <= period.start:
                version = migration.version_id
        return version

    def overrides_json(self) -> dict[str, str | int | None]:
        return dict(self.overrides)


@dataclass(frozen=True)
class Target:
    """One invoice to rate: a new period (``draft_id`` None) or a saved draft again."""

    customer_id: int
    contract_id: int
    period: Period
    version_id: int
    draft_id: Any = None

    @property
    def sort_key(self) -> tuple:
        return (self.customer_id, self.period.start, self.contract_id)


@dataclass(frozen=True)
class RunPlan:
    """What a group's run rates, oldest period first per customer, and whom it refuses."""

    targets: tuple[Target, ...]
    refused: Mapping[int, str] = field(default_factory=dict)  # customer id → why


@dataclass(frozen=True)
class DraftKey:
    """A saved draft to rate again: which contract and period it is."""

    draft_id: Any
    customer_id: int
    contract_id: int
    period: Period


def billing_cutoff(as_of: dt.datetime, *, grace: dt.timedelta) -> dt.datetime:
    """Periods ending at or before this are due (SPEC 4: the grace time after the end)."""
    return as_of - grace


def cutoff_day(cutoff: dt.datetime) -> dt.date:
    """A period ends at midnight, so it has ended by ``cutoff`` exactly when its end day
    is not after the cutoff's UTC day."""
    return cutoff.astimezone(dt.UTC).date()


def due_periods(contract_id: int, calendar: Calendar, *, until: dt.date,
                invoiced: Collection[tuple[int, dt.date]]) -> list[Period]:
    """Periods ended by ``until`` (see :func:`cutoff_day`) with no invoice yet.

    ``invoiced`` holds ``(contract id, period start)`` of every invoice, whatever its status.
    """
    return [p for p in calendar.periods(until=until) if (contract_id, p.start) not in invoiced]


def too_many_periods(contract: ContractTerms, *, due: int, limit: int) -> str:
    return (
        f"PeriodLimitExceeded: contract {contract.contract_id} has {due} periods due, more "
        f"than the {limit} one run may bill (BILLING_MAX_PERIODS_PER_CONTRACT_RUN); none were "
        f"billed. Check its start date ({contract.calendar.start.isoformat()}), then bill it "
        f"with a higher limit if it is right."
    )


def plan_run(
    *,
    contracts: Iterable[ContractTerms],
    drafts: Sequence[DraftKey] = (),
    by_id: Mapping[int, ContractTerms] | None = None,
    invoiced: Collection[tuple[int, dt.date]] = frozenset(),
    cutoff: dt.datetime | None = None,
    max_periods: int | None = None,
) -> RunPlan:
    """The targets of one group: its drafts to rate again, and (with ``cutoff``) every
    period of ``contracts`` due by then.

    ``by_id`` finds a draft's contract (default: among ``contracts``). A contract with
    more than ``max_periods`` due is refused, and with it every target of its customer:
    thousands of drafts from one run mean a wrong start date or ``as_of``, which ops
    should look at before anything is billed.
    """
    contracts = list(contracts)
    by_id = by_id if by_id is not None else {c.contract_id: c for c in contracts}
    targets = [
        Target(d.customer_id, d.contract_id, d.period, by_id[d.contract_id].version_for(d.period),
               draft_id=d.draft_id)
        for d in drafts
    ]
    refused: dict[int, str] = {}
    if cutoff is not None:
        until = cutoff_day(cutoff)
        for contract in contracts:
            due = due_periods(contract.contract_id, contract.calendar, until=until,
                              invoiced=invoiced)
            if max_periods is not None and len(due) > max_periods:
                refused[contract.customer_id] = too_many_periods(
                    contract, due=len(due), limit=max_periods)
                continue
            targets.extend(
                Target(contract.customer_id, contract.contract_id, period,
                       contract.version_for(period))
                for period in due
            )
        targets = [t for t in targets if t.customer_id not in refused]
    targets.sort(key=lambda t: t.sort_key)
    return RunPlan(tuple(targets), refused)


# --- Period arithmetic, cached: a run asks the same questions for thousands of contracts --


def term_periods(*, anchor: dt.date, interval: str, start: dt.date, end_date: dt.date | None,
                 until: dt.date | None) -> tuple[Period, ...]:
    term_end = end_date + ONE_DAY if end_date is not None else None
    if term_end is None and until is None:
        raise ValueError("an evergreen contract has endless periods: pass until")
    return _anchored_periods(anchor, interval, start, term_end, until)


@functools.lru_cache(maxsize=4096)
def _anchored_periods(anchor: dt.date, interval: str, start: dt.date, term_end: dt.date | None,
                      until: dt.date | None) -> tuple[Period, ...]:
    periods = []
    for period in periods_between(anchor, interval, start, term_end):
        if until is not None and period.end > until:
            break
        periods.append(period)
    return tuple(periods)


@functools.lru_cache(maxsize=1024)
def period_moments(period: Period) -> tuple[dt.datetime, dt.datetime]:
    """``(period.start_at, period.end_at)``, built once: a run asks for every customer."""
    return period.start_at, period.end_at


def spans_overlapping(spans: Iterable[SeatSpan], period: Period) -> tuple[SeatSpan, ...]:
    start, end = period_moments(period)
    return tuple(
        s for s in spans
        if s.active_from < end and (s.active_until is None or s.active_until > start)
    )
