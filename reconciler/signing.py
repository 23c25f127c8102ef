"""The `sha256=<hex HMAC-SHA256(secret, body)>` body signature, one home for both directions.

GitHub's X-Hub-Signature-256 scheme ("Validating webhook deliveries", docs.github.com):
the daemon checks it on incoming pushes (reconciler.source.hooks) and puts it on the
webhooks it delivers (reconciler.notify.destinations), so a receiver can verify ours
with the same code it uses for GitHub's. Pure: stdlib only, importable by every layer.
"""
from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """`sha256=` + hex HMAC-SHA256 of the raw body under `secret`."""
    return PREFIX + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_matches(given: str, secret: str, body: bytes) -> bool:
    """True when `given` is the signature of `body` under `secret`, compared in constant time."""
    return hmac.compare_digest(given.encode("utf-8"), sign(secret, body).encode("utf-8"))
