"""Where invoice lifecycle events reach the Stripe sync, without depending on it.

The sync lives in ``invoices.stripe_sync``. These hooks import it lazily so the
lifecycle works (and is tested) without it, and picks it up once it is installed. Only
a *missing* module is tolerated: an error inside the sync still raises.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging

logger = logging.getLogger(__name__)

STRIPE_SYNC_MODULE = "invoices.stripe_sync"


def _sync_function(name: str):
    if importlib.util.find_spec(STRIPE_SYNC_MODULE) is None:
        return None
    return getattr(importlib.import_module(STRIPE_SYNC_MODULE), name, None)


def enqueue_invoice_sync(invoice_id: str) -> None:
    """A finalized invoice should appear in Stripe."""
    function = _sync_function("enqueue_invoice_sync")
    if function is None:
        logger.debug("no Stripe sync installed; invoice %s stays local", invoice_id)
        return
    function(str(invoice_id))


def enqueue_invoice_void(invoice_id: str) -> None:
    """A voided invoice should be voided in Stripe too."""
    function = _sync_function("enqueue_invoice_void")
    if function is None:
        logger.debug("no Stripe sync installed; void of %s stays local", invoice_id)
        return
    function(str(invoice_id))
