"""Fixtures of the profile, lint and weak-key tests."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from policies import Policy, default_policy
from tests.profile.certs import make_ca


@pytest.fixture(scope="session")
def policy() -> Policy:
    return default_policy()


@pytest.fixture(scope="session")
def ca_pair() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    return make_ca()


@pytest.fixture(scope="session")
def ca(ca_pair: tuple[x509.Certificate, ec.EllipticCurvePrivateKey]) -> x509.Certificate:
    return ca_pair[0]
