"""Pricing lab: backtests of plan versions on real usage and provider cost (a Django app, label `lab`)."""
