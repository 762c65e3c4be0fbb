"""schemathesis hooks for tests/fuzz/run_schemathesis.sh (SCHEMATHESIS_HOOKS=tests.fuzz.hooks).

gunicorn answers a request line longer than its `limit_request_line`
(billing_site/gunicorn_conf.py) with its own HTML 400 before the app sees it: that answer is
the front server's, not the API's, so the fuzz run does not send such requests. Everything
the app can receive is still generated and checked against the schema. A CI run found this
(GET /billing-runs with sixty repeated `limit` values, a 4,202-byte request line).
"""

from __future__ import annotations

import runpy
from pathlib import Path
from urllib.parse import quote, urlencode

import schemathesis

GUNICORN_CONF = Path(__file__).resolve().parents[2] / "billing_site" / "gunicorn_conf.py"
LIMIT_REQUEST_LINE = int(runpy.run_path(str(GUNICORN_CONF))["limit_request_line"])
# "GET " ... " HTTP/1.1", with room for the longest method name.
REQUEST_LINE_OVERHEAD = len("OPTIONS ") + len(" HTTP/1.1")


def request_line_length(path: str, path_parameters: dict | None, query: dict | None) -> int:
    """The length of the request line requests would send for these parts (an upper bound:
    values are percent-encoded the strictest way)."""
    for name, value in (path_parameters or {}).items():
        path = path.replace("{" + name + "}", quote(str(value), safe=""))
    target = path + ("?" + urlencode(query, doseq=True) if query else "")
    return len(target) + REQUEST_LINE_OVERHEAD


@schemathesis.hook
def filter_case(context, case) -> bool:
    full_path = case.operation.schema.get_full_path(case.path)
    return request_line_length(full_path, case.path_parameters, case.query) <= LIMIT_REQUEST_LINE
