"""Kalshi request signing verification (kalshi-api.md §2).

Clients send ``KALSHI-ACCESS-KEY`` (key id), ``KALSHI-ACCESS-TIMESTAMP`` (Unix **milliseconds** of the
client's wall clock) and ``KALSHI-ACCESS-SIGNATURE`` (standard base64 of an RSA-PSS signature, SHA-256,
MGF1(SHA-256), salt = digest length) over the UTF-8 string ``timestamp + METHOD + path``, where ``path``
is the request path as received (including ``/trade-api/v2``) without the query string. The body is not
signed. The simulator verifies with salt length AUTO, so a salt of 32 bytes or the maximum both pass.

Failures answer 401 ``{"error": {"code": "authentication_error", "message": "authentication_error",
"details": <cause>}}`` with ``details`` one of ``MISSING_AUTH_HEADERS``, ``UNKNOWN_API_KEY``,
``STALE_TIMESTAMP`` (outside +/- ``tolerance_s`` of the **real** wall clock, since clients sign with
theirs), ``INVALID_TIMESTAMP`` or ``INCORRECT_API_KEY_SIGNATURE``.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from simulator.errors import AUTHENTICATION_ERROR, ApiError

log = logging.getLogger(__name__)

KEY_HEADER = "KALSHI-ACCESS-KEY"
TIMESTAMP_HEADER = "KALSHI-ACCESS-TIMESTAMP"
SIGNATURE_HEADER = "KALSHI-ACCESS-SIGNATURE"

_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)


class KeyLoadError(ValueError):
    """A public key could not be loaded (not PEM, not RSA)."""


def auth_error(details: str) -> ApiError:
    """The 401 Kalshi returns for authentication failures, with ``details`` naming the cause."""
    return ApiError(401, AUTHENTICATION_ERROR, details, message="authentication_error")


def load_public_key(pem: str | bytes) -> rsa.RSAPublicKey:
    """Parse an RSA public key PEM (``PUBLIC KEY`` / SPKI or ``RSA PUBLIC KEY`` / PKCS#1).

    Raises:
        KeyLoadError: if the text is not an RSA public key.

    """
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyLoadError(f"not a PEM public key: {exc}") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise KeyLoadError("only RSA public keys are supported")
    return key


@dataclass(frozen=True)
class RegisteredKey:
    """A key id and its RSA public key; the key id is also the account id."""

    key_id: str
    public_key: rsa.RSAPublicKey


class KeyRegistry:
    """Registered API keys, verification of signed requests.

    Args:
        tolerance_s: accepted distance between the signed timestamp and the real wall clock, seconds.
        wall_ms: wall-clock source in epoch ms (default :func:`time.time_ns` // 1e6).

    """

    def __init__(self, tolerance_s: int = 30, wall_ms: Callable[[], int] | None = None) -> None:
        self.tolerance_ms = tolerance_s * 1000
        self._wall_ms = wall_ms or (lambda: time.time_ns() // 1_000_000)
        self._keys: dict[str, RegisteredKey] = {}

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def register(self, key_id: str, pem: str | bytes) -> RegisteredKey:
        """Register (or replace) a key id's public key.

        Raises:
            KeyLoadError: if the PEM is not an RSA public key.

        """
        entry = RegisteredKey(key_id, load_public_key(pem))
        self._keys[key_id] = entry
        return entry

    def load_dir(self, keys_dir: Path) -> list[str]:
        """Register every ``<key_id>.pub.pem`` file in ``keys_dir``; return the key ids loaded.

        Raises:
            KeyLoadError: if a file is not an RSA public key (naming the file).

        """
        loaded = []
        for path in sorted(keys_dir.glob("*.pub.pem")):
            key_id = path.name[: -len(".pub.pem")]
            try:
                self.register(key_id, path.read_bytes())
            except KeyLoadError as exc:
                raise KeyLoadError(f"{path}: {exc}") from exc
            loaded.append(key_id)
        return loaded

    def verify(self, method: str, path: str, headers: Mapping[str, str]) -> str:
        """Verify a signed request; return the key id.

        Args:
            method: HTTP method as received (upper-cased before signing-string assembly).
            path: the raw request path without the query string.
            headers: the request headers (case-insensitive mapping).

        Raises:
            ApiError: 401 ``authentication_error`` with the cause in ``details``.

        """
        key_id = headers.get(KEY_HEADER)
        timestamp = headers.get(TIMESTAMP_HEADER)
        signature = headers.get(SIGNATURE_HEADER)
        if not key_id or not timestamp or not signature:
            raise auth_error("MISSING_AUTH_HEADERS")
        entry = self._keys.get(key_id)
        if entry is None:
            raise auth_error("UNKNOWN_API_KEY")
        if not timestamp.isdigit():
            raise auth_error("INVALID_TIMESTAMP")
        if abs(self._wall_ms() - int(timestamp)) > self.tolerance_ms:
            raise auth_error("STALE_TIMESTAMP")
        try:
            raw = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise auth_error("INCORRECT_API_KEY_SIGNATURE") from exc
        message = (timestamp + method.upper() + path).encode()
        try:
            entry.public_key.verify(raw, message, _PSS, hashes.SHA256())
        except InvalidSignature as exc:
            raise auth_error("INCORRECT_API_KEY_SIGNATURE") from exc
        return key_id
