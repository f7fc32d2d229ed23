"""Our signing key for SMART Backend Services, and the public JWKS the EHR fetches to check our assertions.

The private JWK is generated on first use and kept in ``ehr_key_file`` (mode 0600); every replica must share
it (mount the same file), since the EHR registered its public half.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

from joserfc.jwk import ECKey, RSAKey

SigningKey = RSAKey | ECKey


def generate_key(alg: str) -> SigningKey:
    parameters = {"alg": alg, "use": "sig"}
    if alg == "ES384":
        return ECKey.generate_key("P-384", parameters=parameters, auto_kid=True)
    return RSAKey.generate_key(2048, parameters=parameters, auto_kid=True)


def _import(data: dict) -> SigningKey:
    return ECKey.import_key(data) if data.get("kty") == "EC" else RSAKey.import_key(data)


@lru_cache(maxsize=8)
def load_or_create_key(path: Path, alg: str) -> SigningKey:
    """The key in ``path`` (created with ``alg`` when missing)."""
    if path.exists():
        return _import(json.loads(path.read_text()))
    key = generate_key(alg)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(key.as_dict(private=True), handle)
    return key


def public_jwks(*keys: SigningKey) -> dict:
    return {"keys": [key.as_dict(private=False) for key in keys]}
