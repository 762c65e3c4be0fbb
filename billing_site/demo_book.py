"""What the demo contains (``manage.py load_demo`` loads it): the metrics, the plans and
their versions, and ~40 customers, each with a term, seats, negotiated terms and a usage
profile, all relative to the day the demo is loaded.

Data only; billing_site/management/commands/load_demo.py writes it through the services.
The customers are chosen so every page has something to show (see that module).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from plans.models import Contract
from usage.demo import UsageProfile

METRICS: list[dict[str, Any]] = [
    {"code": "tasks", "name": "Tasks completed", "event_type": "task.completed",
     "aggregation": "count"},
    {"code": "tokens_rt", "name": "Realtime tokens", "event_type": "ai.call",
     "aggregation": "sum", "field": "total_tokens", "filters": {"latency_tier": "realtime"}},
    {"code": "tokens_batch", "name": "Batch tokens", "event_type": "ai.call",
     "aggregation": "sum", "field": "total_tokens", "filters": {"latency_tier": "batch"}},
    {"code": "ai_calls", "name": "AI calls", "event_type": "ai.call", "aggregation": "count"},
]


@dataclass(frozen=True)
class VersionSpec:
    months_ago: int  # effective from the 1st of the month this many months before today's
    # (negative: a version published now that takes effect in a coming month)
    seat_price: str = "0"
    base_fee: str = "0"
    currency: str = "USD"
    charges: list[dict] = field(default_factory=list)


TOKEN_CHARGES = [
    {"metric": "tokens_rt", "model": "graduated", "tiers": [
        {"up_to": 10_000_000, "unit_price": "0.000004", "flat_fee": "0"},
        {"up_to": None, "unit_price": "0.000003", "flat_fee": "0"}]},
    {"metric": "tokens_batch", "model": "graduated", "tiers": [
        {"up_to": 10_000_000, "unit_price": "0.000002", "flat_fee": "0"},
        {"up_to": None, "unit_price": "0.0000015", "flat_fee": "0"}]},
]

# Version numbers follow list order (1, 2, …).
PLANS: list[tuple[str, str, str, list[VersionSpec]]] = [
    ("team-seats", "Team seats", "Per-seat pricing for teams; v1 customers are grandfathered.", [
        VersionSpec(months_ago=18, seat_price="25.00"),
        VersionSpec(months_ago=4, seat_price="30.00"),
    ]),
    ("tokens", "Tokens (pay as you go)", "Per-token pricing, realtime and batch, graduated.", [
        VersionSpec(months_ago=12, charges=TOKEN_CHARGES),
    ]),
    ("hybrid", "Hybrid", "Seats with 1,000 tasks included per seat (SPEC worked example).", [
        VersionSpec(months_ago=12, seat_price="40.00", charges=[
            {"metric": "tasks", "model": "per_unit", "unit_price": "0.05",
             "included_per_seat": 1000}]),
        VersionSpec(months_ago=12, seat_price="37.00", currency="EUR", charges=[
            {"metric": "tasks", "model": "per_unit", "unit_price": "0.045",
             "included_per_seat": 1000}]),
        # Next month's USD version: more included, cheaper overage, a dearer seat. Acme is
        # scheduled to move to it (new contracts get it once it takes effect).
        VersionSpec(months_ago=-1, seat_price="45.00", charges=[
            {"metric": "tasks", "model": "per_unit", "unit_price": "0.04",
             "included_per_seat": 1500}]),
    ]),
]


@dataclass(frozen=True)
class Term:
    plan: str
    version: int
    months_ago: int = 0  # start: this many months before today's month …
    day: int = 1  # … on this day (clamped to the month's end)
    months: int | None = 12  # term length; None = evergreen
    auto_renew: bool = True


@dataclass(frozen=True)
class CustomerSpec:
    external_id: str
    name: str
    term: Term
    seats: int
    currency: str = "USD"
    renewal: str = Contract.Renewal.GRANDFATHER
    committed_seats: int = 0
    overrides: dict[str, Any] = field(default_factory=dict)
    ends_in_days: int | None = None  # the term's last day is about this far from today
    joiners: int = 0  # seats that joined in the last few weeks
    leavers: int = 0  # seats that left in the last few weeks
    previous: Term | None = None  # an earlier contract that ended without renewal
    migrate_to: int | None = None  # schedule a migration to this version number
    archived: bool = False  # its contract ended and it was archived
    days_in: int | None = None  # today is this many days into the current period
    usage: UsageProfile = UsageProfile()


P = UsageProfile
# Seat plans: per seat and month, light users cost the vendor well under a dollar in
# provider fees, median ones a few dollars, heavy ones about ten; the tail runs agents on
# frontier models with long contexts and costs more than the seat fee. Three periods of
# history each, for the pricing lab's light / median / heavy / tail percentiles.
LIGHT = P(tasks=1, calls=3, tokens=25, frontier=0.15, periods=3)
MEDIAN = P(tasks=2, calls=6, tokens=60, frontier=0.25, periods=3)
HEAVY = P(tasks=3, calls=10, tokens=130, frontier=0.4, periods=3)
TAIL = P(tasks=4, calls=20, tokens=90, frontier=0.7, agents=0.6, periods=3, spread=0.9)
# Priced per token: production-size calls.
TOKENS = P(tasks=1, calls=4, tokens=90, periods=1)


def hybrid(pace: float, *, included: int = 1000, ramp: int = 0) -> UsageProfile:
    """``pace``: the month's tasks per seat as a share of the allowance per seat."""
    return P(tasks=included * pace, calls=8, tokens=8, periods=1, ramp=ramp)


T = Term
CUSTOMERS: list[CustomerSpec] = [
    # The SPEC's worked example: hybrid, 3 committed seats, 4 seats + 1 joining mid-period;
    # past 80% of its allowance two thirds into the period (on pace to pass 100%), and
    # scheduled to move to hybrid v3. Its admin and viewer are the demo's customer logins.
    CustomerSpec("acme", "Acme Corporation", T("hybrid", 1, months_ago=5), seats=4,
                 committed_seats=3, joiners=1, days_in=20, migrate_to=3,
                 usage=hybrid(1.45, ramp=5)),
    # Team seats, grandfathered on v1 (25.00) while v2 (30.00) is current. Globex's agents
    # cost more than its seats bring in, even after its scheduled move to v2.
    CustomerSpec("globex", "Globex Inc.", T("team-seats", 1, months_ago=8), seats=12,
                 migrate_to=2, leavers=1, usage=TAIL),
    CustomerSpec("initech", "Initech", T("team-seats", 1, months_ago=10, day=15), seats=25,
                 overrides={"discount_percent": "10"}, joiners=2, usage=HEAVY),
    CustomerSpec("northwind", "Northwind Traders", T("team-seats", 1, months_ago=6, months=24),
                 seats=9, usage=LIGHT),
    CustomerSpec("contoso", "Contoso Ltd.", T("team-seats", 1), seats=14, ends_in_days=12,
                 usage=MEDIAN),
    CustomerSpec("fabrikam", "Fabrikam, Inc.", T("team-seats", 1, months_ago=15), seats=7,
                 usage=LIGHT),
    CustomerSpec("bellows", "Bellows College", T("team-seats", 1, months_ago=11), seats=16,
                 usage=LIGHT),
    CustomerSpec("fineart", "School of Fine Art", T("team-seats", 1, months_ago=9, day=5),
                 seats=6, usage=LIGHT),
    # Team seats on the current version.
    CustomerSpec("tailspin", "Tailspin Toys", T("team-seats", 2, months_ago=3), seats=6,
                 leavers=1, usage=HEAVY),
    CustomerSpec("adventure-works", "Adventure Works Cycles", T("team-seats", 2, months_ago=2),
                 seats=18, committed_seats=20, overrides={"seat_price": "27.00"}, usage=MEDIAN),
    CustomerSpec("litware", "Litware, Inc.", T("team-seats", 2, months=3, auto_renew=False),
                 seats=4, ends_in_days=25, usage=LIGHT),
    CustomerSpec("proseware", "Proseware, Inc.", T("team-seats", 2, months_ago=1, months=None),
                 seats=5, joiners=1, usage=MEDIAN),
    CustomerSpec("wide-world", "Wide World Importers", T("team-seats", 1, months_ago=14),
                 seats=11, renewal=Contract.Renewal.LATEST, usage=TAIL),
    CustomerSpec("lamna", "Lamna Healthcare", T("team-seats", 2, months_ago=3, day=31),
                 seats=8, usage=MEDIAN),
    CustomerSpec("trey-research", "Trey Research", T("team-seats", 2, months_ago=2, day=10),
                 seats=3, overrides={"minimum_commitment": "150.00"}, usage=HEAVY),
    CustomerSpec("adatum", "A. Datum Corporation", T("team-seats", 2, months_ago=6), seats=10,
                 usage=TAIL),
    CustomerSpec("tailwind", "Tailwind Traders", T("team-seats", 2, months_ago=5, day=8),
                 seats=7, usage=MEDIAN),
    CustomerSpec("contoso-pharma", "Contoso Pharmaceuticals",
                 T("team-seats", 2, months_ago=5, day=22), seats=9, usage=MEDIAN),
    CustomerSpec("libertys", "Liberty's Delightful Sinful Bakery & Cafe",
                 T("team-seats", 2, months_ago=7, day=20), seats=3, usage=HEAVY),
    # Usage only: priced per token.
    CustomerSpec("woodgrove", "Woodgrove Bank", T("tokens", 1, months_ago=7), seats=5,
                 overrides={"minimum_commitment": "500.00"}, usage=TOKENS),
    CustomerSpec("fourth-coffee", "Fourth Coffee", T("tokens", 1, months_ago=4), seats=2,
                 usage=TOKENS),
    CustomerSpec("alpine-ski", "Alpine Ski House", T("tokens", 1, months_ago=9), seats=4,
                 overrides={"overage_cap": "2000.00"}, usage=TOKENS),
    CustomerSpec("coho-winery", "Coho Winery", T("tokens", 1, months_ago=2, day=20), seats=2,
                 usage=TOKENS),
    CustomerSpec("relecloud", "Relecloud", T("tokens", 1), seats=6, ends_in_days=5,
                 renewal=Contract.Renewal.LATEST, usage=TOKENS),
    CustomerSpec("margies-travel", "Margie's Travel", T("tokens", 1, months_ago=5, months=None),
                 seats=3, usage=TOKENS),
    CustomerSpec("humongous", "Humongous Insurance", T("tokens", 1, months_ago=6), seats=10,
                 overrides={"discount_percent": "5", "minimum_commitment": "1000.00"},
                 usage=TOKENS),
    # Hybrid: most stay well inside their allowance; city-power and vanarsdel are past
    # 100% already, nordlicht past 80%.
    CustomerSpec("blue-yonder", "Blue Yonder Airlines", T("hybrid", 1, months_ago=6), seats=15,
                 overrides={"included_per_seat": "1500"}, joiners=2, leavers=1,
                 usage=hybrid(0.03, included=1500)),
    CustomerSpec("city-power", "City Power & Light", T("hybrid", 1, months_ago=4), seats=2,
                 days_in=24, usage=hybrid(1.5, ramp=4)),
    CustomerSpec("southridge", "Southridge Video", T("hybrid", 1, months_ago=3), seats=7,
                 committed_seats=10, usage=hybrid(0.08)),
    CustomerSpec("wingtip", "Wingtip Toys", T("hybrid", 1), seats=5, ends_in_days=20,
                 usage=hybrid(0.12)),
    CustomerSpec("lucerne", "Lucerne Publishing", T("hybrid", 1, months_ago=2, months=24),
                 seats=12, leavers=2, usage=hybrid(0.04)),
    CustomerSpec("vanarsdel", "VanArsdel, Ltd.", T("hybrid", 1, months_ago=4), seats=2,
                 days_in=22, previous=T("team-seats", 1, auto_renew=False),
                 usage=hybrid(1.45, ramp=4)),
    CustomerSpec("munsons", "Munson's Pickles and Preserves", T("hybrid", 1, months_ago=1),
                 seats=3, joiners=1, usage=hybrid(0.2)),
    CustomerSpec("graphic-design", "Graphic Design Institute", T("hybrid", 1, months_ago=7),
                 seats=20, overrides={"seat_price": "36.00", "discount_percent": "15"},
                 usage=hybrid(0.03)),
    CustomerSpec("nordlicht", "Nordlicht Analytik GmbH", T("hybrid", 2, months_ago=5), seats=2,
                 currency="EUR", days_in=21, usage=hybrid(1.3, ramp=5)),
    CustomerSpec("maison-lumiere", "Maison Lumière SAS", T("hybrid", 2, months_ago=2), seats=4,
                 currency="EUR", joiners=1, usage=hybrid(0.15)),
    # Churned: the term ended without renewal and the customer was archived.
    CustomerSpec("consolidated", "Consolidated Messenger",
                 T("team-seats", 1, months_ago=17, auto_renew=False), seats=4, archived=True),
]

FIRST_NAMES = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
    "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "uma", "victor",
    "wendy", "xavier", "yara", "zoe", "amir", "beatriz", "chen", "dmitri", "emeka",
    "fatima", "goran",
]
