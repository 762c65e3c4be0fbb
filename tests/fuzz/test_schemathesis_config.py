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
    "customers": ["acme"], "seats": [1, 2], "contracts": [1],
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
