"""RSA-PSS request signing (kalshi-api.md §2) and credential error messages."""

from __future__ import annotations

import base64
import copy
import os
import pickle
import sys
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from kalshi.errors import KalshiCredentialsError
from kalshi.signer import (
    HEADER_KEY,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    RequestSigner,
    generate_key_pair,
    signing_path,
)

KEY_ID = "a952bcbe-ec3b-4b5b-b8f9-11111111abcd"


@pytest.fixture(scope="module")
def key_pair() -> tuple[bytes, bytes]:
    return generate_key_pair()


def _verify(public_pem: bytes, message: bytes, signature_b64: str) -> None:
    public_key = serialization.load_pem_public_key(public_pem)
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(
        base64.b64decode(signature_b64, validate=True),
        message,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )


def test_generated_pair_formats(key_pair: tuple[bytes, bytes]) -> None:
    private_pem, public_pem = key_pair
    assert private_pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----")  # PKCS#1, like Kalshi's downloads
    assert public_pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    with pytest.raises(ValueError):
        generate_key_pair(1024)


def test_headers_sign_timestamp_method_and_path(key_pair: tuple[bytes, bytes]) -> None:
    private_pem, public_pem = key_pair
    signer = RequestSigner.from_pem(private_pem, KEY_ID)
    headers = signer.headers("get", "/trade-api/v2/portfolio/orders?limit=5&cursor=abc", timestamp_ms=1_703_123_456_789)
    assert set(headers) == {HEADER_KEY, HEADER_TIMESTAMP, HEADER_SIGNATURE}
    assert headers[HEADER_KEY] == KEY_ID
    assert headers[HEADER_TIMESTAMP] == "1703123456789"
    # The signed message is ts + UPPERCASE method + path without the query (§2 example).
    _verify(public_pem, b"1703123456789GET/trade-api/v2/portfolio/orders", headers[HEADER_SIGNATURE])
    with pytest.raises(InvalidSignature):
        _verify(
            public_pem, b"1703123456789GET/trade-api/v2/portfolio/orders?limit=5&cursor=abc", headers[HEADER_SIGNATURE]
        )


def test_signatures_are_randomised_but_all_verify(key_pair: tuple[bytes, bytes]) -> None:
    private_pem, public_pem = key_pair
    signer = RequestSigner.from_pem(private_pem.decode(), KEY_ID)
    a = signer.headers("POST", "/trade-api/v2/portfolio/events/orders", timestamp_ms=1)
    b = signer.headers("POST", "/trade-api/v2/portfolio/events/orders", timestamp_ms=1)
    assert a[HEADER_SIGNATURE] != b[HEADER_SIGNATURE]  # PSS is randomised
    for h in (a, b):
        _verify(public_pem, b"1POST/trade-api/v2/portfolio/events/orders", h[HEADER_SIGNATURE])


def test_default_timestamp_is_current_milliseconds(key_pair: tuple[bytes, bytes]) -> None:
    signer = RequestSigner.from_pem(key_pair[0], KEY_ID)
    ts = int(signer.headers("GET", "/trade-api/ws/v2")[HEADER_TIMESTAMP])
    assert ts > 1_600_000_000_000  # milliseconds, not seconds


def test_pkcs8_key_accepted(key_pair: tuple[bytes, bytes]) -> None:
    private_pem, public_pem = key_pair
    key = serialization.load_pem_private_key(private_pem, password=None)
    pkcs8 = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert pkcs8.startswith(b"-----BEGIN PRIVATE KEY-----")
    signer = RequestSigner.from_pem(pkcs8, KEY_ID)
    h = signer.headers("DELETE", "/trade-api/v2/portfolio/orders/abc", timestamp_ms=42)
    _verify(public_pem, b"42DELETE/trade-api/v2/portfolio/orders/abc", h[HEADER_SIGNATURE])
    assert signer.public_key_pem() == public_pem


def test_from_pem_file(tmp_path: Path, key_pair: tuple[bytes, bytes]) -> None:
    path = tmp_path / "kalshi.pem"
    path.write_bytes(key_pair[0])
    signer = RequestSigner.from_pem_file(path, KEY_ID)
    h = signer.headers("GET", "https://external-api.kalshi.com/trade-api/v2/portfolio/balance?x=1", timestamp_ms=7)
    _verify(key_pair[1], b"7GET/trade-api/v2/portfolio/balance", h[HEADER_SIGNATURE])


def test_repr_has_no_key_material(key_pair: tuple[bytes, bytes]) -> None:
    private_pem, _ = key_pair
    signer = RequestSigner.from_pem(private_pem, KEY_ID)
    text = repr(signer) + str(signer) + f"{signer}"
    assert "a952bcbe" in text and KEY_ID not in text  # key id shortened
    assert signer.public_key_fingerprint[:16] in text
    body_lines = [line for line in private_pem.decode().splitlines() if "-----" not in line]
    for line in body_lines:
        assert line[:20] not in text
    assert "PRIVATE" not in text
    assert len(signer.public_key_fingerprint) == 64
    with pytest.raises(TypeError):
        pickle.dumps(signer)
    with pytest.raises(TypeError):
        copy.deepcopy(signer)


def test_signing_path() -> None:
    assert signing_path("/trade-api/v2/markets?limit=5") == "/trade-api/v2/markets"
    assert signing_path("/trade-api/v2/markets#frag") == "/trade-api/v2/markets"
    assert signing_path("http://127.0.0.1:8765/trade-api/ws/v2?x=1") == "/trade-api/ws/v2"
    with pytest.raises(ValueError):
        signing_path("trade-api/v2/markets")


def test_headers_argument_errors(key_pair: tuple[bytes, bytes]) -> None:
    signer = RequestSigner.from_pem(key_pair[0], KEY_ID)
    with pytest.raises(ValueError):
        signer.headers("", "/trade-api/v2/markets")
    with pytest.raises(ValueError):
        signer.headers("GET", "/trade-api/v2/markets", timestamp_ms=-1)


# ---------------------------------------------------------------- one-line credential errors


def _assert_one_line(exc: pytest.ExceptionInfo[KalshiCredentialsError], fragment: str) -> None:
    message = str(exc.value)
    assert "\n" not in message
    assert fragment in message
    assert isinstance(exc.value, ValueError)
    assert exc.value.retryable is False


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KalshiCredentialsError) as exc:
        RequestSigner.from_pem_file(tmp_path / "nope.pem", KEY_ID)
    _assert_one_line(exc, "not found")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(KalshiCredentialsError) as exc:
        RequestSigner.from_pem_file(tmp_path, KEY_ID)  # a directory
    _assert_one_line(exc, "cannot be read")


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root reads any file")
def test_permission_denied(tmp_path: Path, key_pair: tuple[bytes, bytes]) -> None:
    path = tmp_path / "locked.pem"
    path.write_bytes(key_pair[0])
    path.chmod(0)
    with pytest.raises(KalshiCredentialsError) as exc:
        RequestSigner.from_pem_file(path, KEY_ID)
    _assert_one_line(exc, "cannot be read")


@pytest.mark.parametrize(
    "pem",
    [
        b"not a key",
        b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
        "-----BEGIN PRIVATE KEY-----\nZm9v\n-----END PRIVATE KEY-----\n",
    ],
)
def test_malformed_pem(pem: bytes | str) -> None:
    with pytest.raises(KalshiCredentialsError) as exc:
        RequestSigner.from_pem(pem, KEY_ID)
    _assert_one_line(exc, "not a valid PEM private key")


def test_malformed_pem_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.pem"
    path.write_text("garbage")
    with pytest.raises(KalshiCredentialsError) as exc:
        RequestSigner.from_pem_file(path, KEY_ID)
    _assert_one_line(exc, "bad.pem")


def test_empty_pem() -> None:
    with pytest.raises(KalshiCredentialsError) as exc:
        RequestSigner.from_pem(b"  \n", KEY_ID)
    _assert_one_line(exc, "empty")


def test_non_rsa_key() -> None:
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(KalshiCredentialsError) as exc:
        RequestSigner.from_pem(ec_pem, KEY_ID)
    _assert_one_line(exc, "must be RSA")
    with pytest.raises(KalshiCredentialsError):
        RequestSigner(KEY_ID, serialization.load_pem_private_key(ec_pem, None))  # type: ignore[arg-type]


def test_encrypted_key(key_pair: tuple[bytes, bytes]) -> None:
    key = serialization.load_pem_private_key(key_pair[0], password=None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    )
    with pytest.raises(KalshiCredentialsError) as exc:
        RequestSigner.from_pem(encrypted, KEY_ID)
    _assert_one_line(exc, "encrypted")


@pytest.mark.parametrize("key_id", ["", "   "])
def test_empty_key_id(key_id: str, key_pair: tuple[bytes, bytes], tmp_path: Path) -> None:
    with pytest.raises(KalshiCredentialsError) as exc:
        RequestSigner.from_pem(key_pair[0], key_id)
    _assert_one_line(exc, "key id is empty")
    with pytest.raises(KalshiCredentialsError):
        RequestSigner.from_pem_file(tmp_path / "whatever.pem", key_id)
