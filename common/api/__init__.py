"""The API toolkit every app's ``api/`` package builds on: bounded fields and query-string
readers (``fields``), serializers that refuse unknown keys (``serializers``), the
paginator (``pagination``), per-key rate limits (``throttles``), one error shape for every
4xx and JSON errors under /api/ (``errors``), the schema's error responses and examples
(``schema``) and routes with and without the trailing slash (``urls``)."""
