"""The fuzz run's schemathesis config loads, with the dictionaries tests/fuzz/seed.py writes.

The run itself (tests/fuzz/run_schemathesis.sh, in CI) takes minutes; a config the
installed schemathesis refuses, or a parameter bound to a dictionary the seed does not
write, fails here in a second instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from schemathesis.config import SchemathesisConfig

from tests.fuzz.seed import dictionaries_toml

CONFIG = Path(__file__).with_name("schemathesis.toml")
# One of each kind of id the seed writes, as seed() returns them.
SEED_IDS = {
    "customers": ["acme"], "seats": [1, 2], "contracts": [1], "migrations": [1],
    "invoices": ["8d3c2a4e-1f6b-4c1e-9a7d-2b5e6f7a8c9d"],
    "runs": ["0b7f6c1e-3f0a-4c55-9a57-2f0c8d9e4b21"],
    "metrics": ["tasks"], "plans": ["hybrid"], "versions": [1, 2, 3],
}


def test_config_with_the_seeds_dictionaries_loads_and_ids_stay_integers(monkeypatch):
    monkeypatch.setenv("FUZZ_API_KEY", "key-from-the-seed")

    config = SchemathesisConfig.from_str(CONFIG.read_text() + dictionaries_toml(SEED_IDS))

    assert set(config.dictionaries) == set(SEED_IDS)
    assert [entry.value for entry in config.dictionaries["seats"].entries] == [1, 2]
    assert [entry.value for entry in config.dictionaries["customers"].entries] == ["acme"]


def test_every_dictionary_the_config_binds_is_one_the_seed_writes(monkeypatch):
    from schemathesis.config import ConfigError

    monkeypatch.setenv("FUZZ_API_KEY", "key-from-the-seed")
    missing_runs = {name: ids for name, ids in SEED_IDS.items() if name != "runs"}

    with pytest.raises(ConfigError, match="runs"):
        SchemathesisConfig.from_str(CONFIG.read_text() + dictionaries_toml(missing_runs))


def test_fuzz_leaves_out_request_lines_gunicorn_refuses_and_keeps_the_rest():
    from tests.fuzz import hooks

    assert hooks.LIMIT_REQUEST_LINE == 8190  # read from billing_site/gunicorn_conf.py
    # The CI find: sixty repeated values of `limit` on GET /billing-runs.
    sixty = {"limit": ["\U0010ffff" * 20] * 60}
    assert hooks.request_line_length("/api/v1/billing-runs", None, sixty) > 8190
    assert hooks.request_line_length("/api/v1/billing-runs", None, {"limit": ["10"]}) < 100
    # Path parameters count as sent: percent-encoded.
    long_id = {"external_id": "é" * 2000}
    assert hooks.request_line_length("/api/v1/customers/{external_id}", long_id, None) > 8190


def test_every_way_the_app_is_served_uses_the_gunicorn_config():
    root = Path(__file__).resolve().parents[2]
    for path in ("tests/fuzz/run_schemathesis.sh", "bench/harness.py",
                 "README.md", "docs/operations.md"):
        assert "billing_site/gunicorn_conf.py" in (root / path).read_text(), path
