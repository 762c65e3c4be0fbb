from plans.models.catalog import (
    Charge,
    ChargeTier,
    Metric,
    Plan,
    PlanVersion,
    PublishedVersionError,
)
from plans.models.contracts import Contract, ContractMigration

__all__ = [
    "Charge",
    "ChargeTier",
    "Contract",
    "ContractMigration",
    "Metric",
    "Plan",
    "PlanVersion",
    "PublishedVersionError",
]
