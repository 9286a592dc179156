"""Kalshi environments and their endpoints (kalshi-api.md §1).

``prod`` and ``demo`` are Kalshi's recommended hosts; ``sim`` is the project's Kalshi-compatible
simulator on localhost, whose URLs can be overridden. REST base URLs include the ``/trade-api/v2``
prefix, WebSocket URLs the ``/trade-api/ws/v2`` path; both prefixes are part of what gets signed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

__all__ = ["KalshiEndpoints", "KalshiEnvironment"]


@dataclass(frozen=True, slots=True)
class KalshiEndpoints:
    """The two URLs a client needs.

    Attributes:
        rest_base_url: REST base including ``/trade-api/v2``, no trailing slash.
        ws_url: WebSocket URL ending in ``/trade-api/ws/v2``.

    """

    rest_base_url: str
    ws_url: str


_DEFAULTS: dict[str, KalshiEndpoints] = {
    "prod": KalshiEndpoints(
        rest_base_url="https://external-api.kalshi.com/trade-api/v2",
        ws_url="wss://external-api-ws.kalshi.com/trade-api/ws/v2",
    ),
    "demo": KalshiEndpoints(
        rest_base_url="https://external-api.demo.kalshi.co/trade-api/v2",
        ws_url="wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2",
    ),
    "sim": KalshiEndpoints(
        rest_base_url="http://127.0.0.1:8765/trade-api/v2",
        ws_url="ws://127.0.0.1:8765/trade-api/ws/v2",
    ),
}


def _check_url(url: str, schemes: tuple[str, ...], what: str) -> str:
    """Validate ``url``'s scheme and host and strip a trailing slash; raise ValueError otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.netloc:
        raise ValueError(f"{what} must be an absolute {'/'.join(schemes)} URL, got {url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"{what} must not carry a query or fragment, got {url!r}")
    return url.rstrip("/")


class KalshiEnvironment(StrEnum):
    """Where to trade: ``sim`` (local simulator), ``demo`` (mock funds) or ``prod`` (real money).

    Demo and prod credentials are separate (kalshi-api.md §1); a demo key only works on demo hosts.
    """

    SIM = "sim"
    DEMO = "demo"
    PROD = "prod"

    @property
    def rest_base_url(self) -> str:
        """Default REST base URL, including ``/trade-api/v2``."""
        return _DEFAULTS[self.value].rest_base_url

    @property
    def ws_url(self) -> str:
        """Default WebSocket URL, ``.../trade-api/ws/v2``."""
        return _DEFAULTS[self.value].ws_url

    @property
    def is_real_money(self) -> bool:
        """``True`` only for ``prod``."""
        return self is KalshiEnvironment.PROD

    def endpoints(self, *, rest_base_url: str | None = None, ws_url: str | None = None) -> KalshiEndpoints:
        """Return this environment's endpoints, optionally overridden (e.g. a simulator on another port).

        Args:
            rest_base_url: replacement REST base (``http(s)://host[:port]/trade-api/v2``).
            ws_url: replacement WebSocket URL (``ws(s)://host[:port]/trade-api/ws/v2``).

        Returns:
            The endpoints, trailing slashes removed.

        Raises:
            ValueError: an override with the wrong scheme, no host, or a query string.

        """
        rest = _check_url(rest_base_url or self.rest_base_url, ("http", "https"), "rest_base_url")
        ws = _check_url(ws_url or self.ws_url, ("ws", "wss"), "ws_url")
        return KalshiEndpoints(rest_base_url=rest, ws_url=ws)

    @classmethod
    def parse(cls, value: str) -> KalshiEnvironment:
        """Parse ``"sim"``, ``"demo"`` or ``"prod"`` (case-insensitive; ``"production"`` also accepted).

        Raises:
            ValueError: any other value, with the accepted values listed.

        """
        v = value.strip().lower()
        if v == "production":
            v = "prod"
        try:
            return cls(v)
        except ValueError:
            raise ValueError(
                f"unknown Kalshi environment {value!r}: expected one of {', '.join(e.value for e in cls)}"
            ) from None
