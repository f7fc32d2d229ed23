"""The development server's RS384 signing key: generated at first start, kept in a file so restarts (and other
processes on the same data dir) keep issued tokens valid."""

from __future__ import annotations

import json
import os
from pathlib import Path

from joserfc.jwk import RSAKey


def load_or_create_signing_key(path: Path) -> RSAKey:
    """Read the key at ``path``, or create it there atomically (two processes starting at once agree)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = RSAKey.generate_key(2048, parameters={"alg": "RS384", "use": "sig"}, private=True)
        document = key.as_dict(private=True)
        document["kid"] = key.thumbprint()
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(document, handle)
        try:
            os.link(tmp, path)  # fails if another process won the race: then use its key
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    document = json.loads(path.read_text())
    return RSAKey.import_key(document, parameters={"alg": "RS384", "use": "sig", "kid": document["kid"]})
