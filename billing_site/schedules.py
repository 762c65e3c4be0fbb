"""The periodic jobs, kept in django-celery-beat's tables by ``sync_schedules``.

Ops can pause or retime a job in the admin (Periodic tasks); ``sync_schedules`` only
creates missing ones and never overwrites an edited interval.
"""

from __future__ import annotations

SCHEDULES: list[dict] = [
    # name, dotted task path, every N seconds
    # Rolls up usage, then evaluates usage alerts (usage never imports invoices).
    {"name": "Roll up usage", "task": "invoices.alerts.tasks.rollup_and_evaluate", "every": 300},
    {"name": "Renew contracts", "task": "plans.tasks.renew_contracts", "every": 3600},
    {"name": "Billing run", "task": "invoices.tasks.run_billing", "every": 3600},
    {"name": "Auto-finalize drafts", "task": "invoices.tasks.auto_finalize_drafts", "every": 900},
    {"name": "Retry Stripe sync", "task": "invoices.tasks.retry_stripe_sync", "every": 600},
    {"name": "Replay failed webhooks", "task": "invoices.tasks.replay_failed_webhooks", "every": 900},
    # Under invoices.ops.kept.FRESH (5 min), so the margin report is always served kept.
    {"name": "Keep margin reports warm", "task": "invoices.tasks.keep_margin_books", "every": 240},
    {"name": "Deliver webhooks", "task": "accounts.outbound.tasks.deliver_due_webhooks",
     "every": 60},
]
