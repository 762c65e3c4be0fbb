"""The customer portal: what a customer's users read after login (server-rendered pages)."""
