"""Kalshi request signing: RSA-PSS over ``timestamp_ms + METHOD + path`` (kalshi-api.md §2).

Every authenticated REST request and the WebSocket handshake carry three headers:

* ``KALSHI-ACCESS-KEY``: the API key id,
* ``KALSHI-ACCESS-TIMESTAMP``: Unix time in **milliseconds**, as a decimal string,
* ``KALSHI-ACCESS-SIGNATURE``: standard padded base64 of
  RSA-PSS(SHA-256, MGF1(SHA-256), salt length = digest length = 32 bytes) over the UTF-8 string
  ``f"{timestamp_ms}{METHOD}{path}"``, where ``path`` is the full URL path including ``/trade-api/v2``
  and excluding the query string. The body is not signed.

The private key never leaves the :class:`RequestSigner` object: it is not part of ``repr``/``str``, and
no function here logs.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kalshi.errors import KalshiCredentialsError

__all__ = [
    "HEADER_KEY",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "RequestSigner",
    "generate_key_pair",
    "signing_path",
]

HEADER_KEY = "KALSHI-ACCESS-KEY"
"""Header carrying the API key id."""
HEADER_TIMESTAMP = "KALSHI-ACCESS-TIMESTAMP"
"""Header carrying the signing time, Unix milliseconds as a decimal string."""
HEADER_SIGNATURE = "KALSHI-ACCESS-SIGNATURE"
"""Header carrying the base64 RSA-PSS signature."""


def signing_path(path_or_url: str) -> str:
    """Return the path Kalshi signs: the URL path, without query string or fragment (kalshi-api.md §2).

    Args:
        path_or_url: a path such as ``/trade-api/v2/portfolio/orders?limit=5`` or a full URL.

    Returns:
        ``/trade-api/v2/portfolio/orders`` for the example above.

    Raises:
        ValueError: if the result does not start with ``/``.

    """
    path = urlsplit(path_or_url).path if "://" in path_or_url else path_or_url.split("?", 1)[0].split("#", 1)[0]
    if not path.startswith("/"):
        raise ValueError(f"signing path must be absolute (start with '/'): {path_or_url!r}")
    return path


class RequestSigner:
    """Produces Kalshi authentication headers with one RSA private key (kalshi-api.md §2).

    Build it with :meth:`from_pem` or :meth:`from_pem_file` (a PKCS#1 ``RSA PRIVATE KEY`` or PKCS#8
    ``PRIVATE KEY`` PEM block, unencrypted). ``repr()`` shows a shortened key id and a SHA-256 fingerprint of
    the public key, never private material.

    Args:
        key_id: the Kalshi API key id (a UUID string).
        private_key: the RSA private key matching the public key registered with Kalshi.

    Raises:
        KalshiCredentialsError: empty ``key_id`` or a key that is not RSA.

    """

    __slots__ = ("_fingerprint", "_private_key", "key_id")

    def __init__(self, key_id: str, private_key: rsa.RSAPrivateKey) -> None:
        if not isinstance(key_id, str) or not key_id.strip():
            raise KalshiCredentialsError("Kalshi API key id is empty: set the key id that goes with the private key")
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise KalshiCredentialsError(
                f"Kalshi private key must be RSA, got {type(private_key).__name__}: use the key Kalshi issued"
            )
        self.key_id = key_id.strip()
        self._private_key = private_key
        der = private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self._fingerprint = hashlib.sha256(der).hexdigest()

    @classmethod
    def from_pem(cls, pem: str | bytes, key_id: str) -> RequestSigner:
        """Load an unencrypted PEM RSA private key (PKCS#1 or PKCS#8).

        Args:
            pem: the PEM text or bytes as downloaded from Kalshi.
            key_id: the Kalshi API key id.

        Returns:
            A ready signer.

        Raises:
            KalshiCredentialsError: empty key id; malformed PEM; encrypted key; non-RSA key. One line,
                without key material.

        """
        if not isinstance(key_id, str) or not key_id.strip():
            raise KalshiCredentialsError("Kalshi API key id is empty: set the key id that goes with the private key")
        data = pem.encode("utf-8") if isinstance(pem, str) else bytes(pem)
        if not data.strip():
            raise KalshiCredentialsError("Kalshi private key is empty: expected a PEM private key block")
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except TypeError:
            raise KalshiCredentialsError(
                "Kalshi private key is encrypted: provide the unencrypted PEM key Kalshi issued"
            ) from None
        except (ValueError, UnsupportedAlgorithm):
            raise KalshiCredentialsError(
                "Kalshi private key is not a valid PEM private key (expected a PKCS#1 'RSA PRIVATE KEY' or "
                "PKCS#8 'PRIVATE KEY' block)"
            ) from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise KalshiCredentialsError(
                f"Kalshi private key must be RSA, got {type(key).__name__}: use the key Kalshi issued"
            )
        return cls(key_id, key)

    @classmethod
    def from_pem_file(cls, path: str | os.PathLike[str], key_id: str) -> RequestSigner:
        """Load the private key from a PEM file.

        Args:
            path: file system path of the PEM file.
            key_id: the Kalshi API key id.

        Returns:
            A ready signer.

        Raises:
            KalshiCredentialsError: empty key id; missing file; unreadable file (permissions, a
                directory); malformed PEM; encrypted or non-RSA key.

        """
        if not isinstance(key_id, str) or not key_id.strip():
            raise KalshiCredentialsError("Kalshi API key id is empty: set the key id that goes with the private key")
        p = Path(path)
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            raise KalshiCredentialsError(f"Kalshi private key file not found: {p}") from None
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise KalshiCredentialsError(f"Kalshi private key file cannot be read: {p}: {reason}") from None
        try:
            return cls.from_pem(data, key_id)
        except KalshiCredentialsError as exc:
            raise KalshiCredentialsError(f"{exc.message} (file {p})") from None

    @property
    def public_key_fingerprint(self) -> str:
        """SHA-256 hex digest of the DER SubjectPublicKeyInfo of the public key (64 hex chars)."""
        return self._fingerprint

    def public_key_pem(self) -> bytes:
        """Return the matching public key as PEM SubjectPublicKeyInfo bytes (safe to share)."""
        return self._private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, message: bytes) -> str:
        """Sign ``message`` with RSA-PSS/SHA-256/MGF1-SHA-256, salt 32 bytes; return padded standard base64."""
        signature = self._private_key.sign(
            message,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
            hashes.SHA256(),
        )
        return base64.b64encode(signature).decode("ascii")

    def headers(self, method: str, path: str, timestamp_ms: int | None = None) -> dict[str, str]:
        """Build the three Kalshi auth headers for one request (kalshi-api.md §2).

        Args:
            method: HTTP method, any case (signed upper case).
            path: full URL path including ``/trade-api/v2`` (or a full URL); any query string is
                dropped before signing.
            timestamp_ms: Unix time in milliseconds; defaults to the current wall clock.

        Returns:
            ``{"KALSHI-ACCESS-KEY": key_id, "KALSHI-ACCESS-TIMESTAMP": "<ms>", "KALSHI-ACCESS-SIGNATURE": "<b64>"}``.

        Raises:
            ValueError: empty method, a path that is not absolute, or a negative timestamp.

        """
        verb = method.strip().upper()
        if not verb:
            raise ValueError("HTTP method is empty")
        ts = time.time_ns() // 1_000_000 if timestamp_ms is None else int(timestamp_ms)
        if ts < 0:
            raise ValueError(f"timestamp_ms must be >= 0, got {ts}")
        message = f"{ts}{verb}{signing_path(path)}".encode()
        return {
            HEADER_KEY: self.key_id,
            HEADER_TIMESTAMP: str(ts),
            HEADER_SIGNATURE: self.sign(message),
        }

    def __repr__(self) -> str:
        shown = self.key_id if len(self.key_id) <= 8 else self.key_id[:8] + "…"
        return f"RequestSigner(key_id={shown!r}, public_key_sha256={self._fingerprint[:16]!r})"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("RequestSigner holds a private key and cannot be pickled or copied")


def generate_key_pair(key_size: int = 2048) -> tuple[bytes, bytes]:
    """Generate a throwaway RSA key pair for local tooling (e.g. the simulator's API key).

    Args:
        key_size: modulus size in bits (>= 2048).

    Returns:
        ``(private_pem, public_pem)``: the private key as unencrypted PKCS#1 PEM
        (a PKCS#1 ``RSA PRIVATE KEY`` block, the format Kalshi issues) and the public key as PEM
        SubjectPublicKeyInfo (``BEGIN PUBLIC KEY``).

    Raises:
        ValueError: if ``key_size`` < 2048.

    """
    if key_size < 2048:
        raise ValueError(f"key_size must be >= 2048 bits, got {key_size}")
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem
