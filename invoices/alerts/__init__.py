"""Usage alerts: thresholds per customer and each crossing, sent once per period (a Django app, label `alerts`)."""
