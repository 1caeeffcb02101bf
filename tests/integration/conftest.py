"""Fixtures of the integration suite. The tests talk to a real stack
(nginx -> herald-api -> Redis -> herald-router -> PostgreSQL -> herald-worker
-> SMTP server) that `scripts/herald test` starts and describes with the
environment variables of docs/STACK.md."""

import os

import pytest

import herald_helpers as h


def pytest_configure(config):
    missing = [v for v in h.REQUIRED_ENV if not os.environ.get(v)]
    if missing:
        raise pytest.UsageError(
            "The Herald integration tests need a running stack and its environment "
            f"(missing: {', '.join(missing)}).\n"
            "Run them with `scripts/herald test` (it starts a throwaway stack and an SMTP "
            "server, sets HERALD_BASE_URL, HERALD_PG_DSN, ... and runs pytest)."
        )


@pytest.fixture
def tenant():
    """A fresh tenant of its own (no data shared with any other test)."""
    return h.create_tenant()


@pytest.fixture
def tenant_factory():
    return h.create_tenant


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


@pytest.fixture(scope="session")
def wait_for():
    return h.wait_for


@pytest.fixture(scope="session")
def find_mail():
    """find_mail(to, subject=None) -> list of EmailMessage in the SMTP Maildir."""
    return h.find_mails


@pytest.fixture(scope="session")
def api():
    return h.api


@pytest.fixture(scope="session")
def provider_fake():
    """The loopback fake of every HTTP provider (tests/fakes/provider_fake.py)."""
    import provider_helpers

    fake = provider_helpers.ProviderFake()
    yield fake
    fake.close()
