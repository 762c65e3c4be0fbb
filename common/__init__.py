"""The ground floor: helpers every app shares, with no models and no app below it.

``common`` imports Django, DRF and drf-spectacular, never an app of this project (a test,
``tests/test_layout.py``, walks the imports to keep it so), so every app may use it:

- ``bounds``: the ranges every input must fall in (years 1970–2200, counts, money);
- ``currencies``: ISO 4217 codes and their minor units;
- ``decimals``: the one way a decimal loses its padding (``tidy``) and becomes text
  (``format_decimal``, ``format_money``);
- ``rates``: ``"1200/min"`` parsed once, for the settings and the throttles;
- ``admin``: admin forms and inlines that save through a service;
- ``api``: the HTTP API toolkit (fields, strict serializers, pagination, throttling,
  the error shape and handlers, the schema's error responses, ``api_path``).
"""
