from __future__ import annotations

import pytest

from tests.accounts.outbound.receiver import start_receiver


@pytest.fixture
def receiver():
    receiver, server = start_receiver()
    yield receiver
    server.shutdown()
    server.server_close()
