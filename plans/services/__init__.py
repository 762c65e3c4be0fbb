from plans.services.catalog import (
    MetricPricedError,
    metric_create,
    metric_update,
    plan_create,
    plan_version_copy,
    plan_version_create,
    plan_version_publish,
    plan_version_update,
)
from plans.services.contracts import (
    MigrationInEffectError,
    contract_cancel_migration,
    contract_create,
    contract_renew_due,
    contract_schedule_migration,
    contract_update,
)

__all__ = [
    "MetricPricedError",
    "MigrationInEffectError",
    "contract_cancel_migration",
    "contract_create",
    "contract_renew_due",
    "contract_schedule_migration",
    "contract_update",
    "metric_create",
    "metric_update",
    "plan_create",
    "plan_version_copy",
    "plan_version_create",
    "plan_version_publish",
    "plan_version_update",
]
