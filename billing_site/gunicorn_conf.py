"""gunicorn settings for every way this app is served: `gunicorn -c billing_site/gunicorn_conf.py
billing_site.wsgi` (docs/operations.md), the fuzz run and the benchmarks.

Only what the app relies on is fixed here; workers, threads and the bind address stay on
the command line, where each deployment chooses them.

gunicorn answers some malformed requests itself, with its own HTML page, before Django
sees them: a request line or a header past the limits below (400), too many headers. A
client of the JSON API never meets them in normal use: the longest URL the API documents
(a usage read with every filter) is far below the limit. They are set, not left at
gunicorn's defaults, so the fuzz run (tests/fuzz/hooks.py) knows where the app's contract
begins and a proxy in front can be configured to the same or tighter values.
"""

# gunicorn's largest finite value (0 would mean unlimited: a worker buffering any length).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

# A request that takes longer than this is a bug or an attack; billing runs are queued
# (POST /billing-runs answers 202) and never run inside a request.
timeout = 60
