"""Everything that talks to Stripe, in one package, imported one way only.

::

    urls → views ─┐
                  ├→ tasks ─┬→ sync ─→ steps              our invoice → Stripe
    admin ────────┘         └→ webhooks ─→ invoices.services.lifecycle
                                                          Stripe's events → our invoice
    checks → sync

``steps`` makes the Stripe API calls; ``sync`` decides when they run and records the
outcome on the invoice; ``webhooks`` verifies, stores and applies Stripe's events. These
three are services: they take ``now`` and never queue work. ``tasks`` is the Celery edge
and the one place that queues: a service says what is due (``stripe_sync_start``,
``stripe_void_start``, ``stripe_retry_claim``, a newly stored event) and ``tasks`` sends
the task after commit. ``invoices.tasks`` imports ``tasks`` so the worker registers it;
``invoices.admin`` imports ``admin``. No module here imports one above it, lazily or not.
"""
