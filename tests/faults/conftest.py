"""Fault tests: a stream of notifications flows through the real stack while
a process is killed, Redis restarts, PostgreSQL stops or the SMTP server
misbehaves; afterwards every notification answered 2xx must be delivered
exactly once. Run by `scripts/herald test` (after the integration suite, on
the same throwaway stack) or alone with `scripts/herald test --faults`."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
import herald_helpers as h  # noqa: E402


def pytest_configure(config):
    missing = [v for v in h.REQUIRED_ENV if not os.environ.get(v)]
    if missing:
        raise pytest.UsageError(
            f"The fault tests need a running stack (missing: {', '.join(missing)}); "
            "run them with `scripts/herald test` or `scripts/herald test --faults`."
        )


@pytest.fixture(scope="session")
def db():
    conn = h.pg_connect()
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def rds():
    client = h.redis_client()
    yield client
    client.close()
