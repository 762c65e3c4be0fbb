"""Outbound webhooks: the vendor's own endpoints, signed deliveries and their attempts (a Django app, label `outbound`)."""
