"""Pricing lab: backtests of plan versions on real usage and provider cost."""

from __future__ import annotations
