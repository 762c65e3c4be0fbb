"""Usage alerts: thresholds per customer and each crossing, sent once per period."""

from __future__ import annotations
