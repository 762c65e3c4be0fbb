"""Outbound webhooks: the vendor's own endpoints, signed deliveries and their attempts."""

from __future__ import annotations
