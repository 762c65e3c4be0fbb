"""The pricing lab over HTTP (admin-scope keys): backtests, and the pricing answers."""
