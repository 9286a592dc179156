"""Kalshi WebSocket frames parsed ONCE, at the edge, into typed, exact events (kalshi-api.md §6).

:func:`parse_frame` turns one text frame (``bytes`` or ``str`` JSON) into exactly one typed event and
never raises for bad input:

* a known message type -> its event class (:class:`OrderbookSnapshot`, :class:`OrderbookDelta`,
  :class:`Trade`, :class:`Ticker`, :class:`TickerV2`, :class:`Fill`, :class:`MarketPositionUpdate`,
  :class:`UserOrderUpdate`, :class:`OrderGroupUpdate`, :class:`MarketLifecycle`, :class:`EventLifecycle`,
  :class:`Subscribed`, :class:`Ok`, :class:`Unsubscribed`, :class:`ErrorMessage`);
* a well-formed frame of a type this module does not know -> :class:`UnknownMessage` (count it);
* anything malformed (bad JSON, not an object, missing or mistyped fields, a float where money or a count
  belongs, a price outside $0..$1 or finer than $0.0001, a count finer than 0.01) -> :class:`FrameError`
  carrying the raw frame and the reason (count it; a FrameError of an order-book type means the book of
  that market can no longer be trusted, see :meth:`kalshi.orderbook.BookStore.apply`).

Both wire eras are read (§0, §4): the current fixed-point fields (``*_dollars`` 4-dp dollar strings,
``*_fp`` 2-dp count strings) and the legacy integers (prices in cents, counts in whole contracts, and the
CENTI-CENT money of old ``market_position`` frames). When both are present the fixed-point field wins.

Units (every number is exact; floats are never produced and never accepted for money or counts):

* prices are ``int`` **centi-cents** (``*_cc``): $1 = 10,000, so ``"0.4800"`` -> ``4800``; legacy cents
  ``48`` -> ``4800``. $0.0001 is the finest price on the wire (§4), so every price fits exactly;
* contract counts are ``int`` **lots** (``*_lots``) of 1/100 contract, the ``_fp`` granularity (§4):
  ``"46.02"`` -> ``4602``; legacy whole contracts ``46`` -> ``4600``. Signed where the field is signed
  (``delta_lots``, ``position_lots``: + = YES, - = NO, §8);
* other money (costs, fees, P&L, up to 6 dp) is :class:`~decimal.Decimal` **dollars** (``*_dollars``);
* times are ``int`` Unix **milliseconds** (``*_ts_ms``/``ts_ms``) or **seconds** (``ts_s``, ``*_ts``)
  as named.

Modules: :mod:`~kalshi.models.ws.units` (the exact scaled-int unit system), :mod:`~kalshi.models.ws.events`
(the typed events), :mod:`~kalshi.models.ws.hot` (the fast path), :mod:`~kalshi.models.ws.parse`
(:func:`parse_frame` and the slow path); every public name is re-exported here.

Speed. Order-book deltas arrive by the hundred thousand per market and hour, so ``orderbook_delta``,
``orderbook_snapshot`` and ``trade`` take a fast path: one :mod:`msgspec` decode straight into typed wire
structs (no intermediate dict, no pydantic), then string -> scaled-int conversion through small bounded
caches (a market has at most 10,001 distinct price strings and a few thousand distinct delta strings), with
an exact parser (and a :class:`~decimal.Decimal` fallback for unusual spellings such as ``"4.8E-1"``) on a
miss. The slow path (every other type, and the error reporting of the hot ones) decodes to plain Python
objects and validates field by field; both paths produce identical events (tested on the recorded tapes).
Events are light immutable :class:`msgspec.Struct` objects; hot ones are not tracked by the cyclic GC.
"""

from kalshi.models.ws import events, units
from kalshi.models.ws.events import *  # noqa: F403 - the package re-exports the events and the units
from kalshi.models.ws.hot import HOT_MESSAGE_TYPES
from kalshi.models.ws.parse import KNOWN_MESSAGE_TYPES, parse_frame
from kalshi.models.ws.units import *  # noqa: F403

__all__ = [*events.__all__, *units.__all__, "HOT_MESSAGE_TYPES", "KNOWN_MESSAGE_TYPES", "parse_frame"]
