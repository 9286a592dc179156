"""Drive a running simulator with Kalshi's official Python SDK (``kalshi_python_sync``) and report.

This script runs **inside the SDK's own virtualenv** (Python >= 3.13 for SDK 3.3+, 3.11 for 3.2.0), so it
imports only the standard library and the SDK. The pytest side (``test_sdk_conformance.py``) starts the
simulator, registers an account and runs::

    <sdk-venv>/bin/python sdk_driver.py CONFIG.json

where ``CONFIG.json`` holds ``rest_url``, ``control_url``, ``key_id`` and ``private_key_pem``. It prints
one JSON object on stdout: ``{"sdk_version", "calls": [{"name", "ok", "error"}], "passed", "tried"}``.

Every call goes through the SDK's API classes (``MarketApi``, ``OrdersApi``, ...). A call passes when

* the SDK returned its parsed model (no pydantic validation error, no exception), and
* every field of the parsed model equals the field of the raw JSON body the simulator sent (nothing was
  lost or coerced in parsing), and
* the values are the ones the simulator holds: checked against the simulator's control API
  (``/sim/v1``: account cash, orders, positions, market statuses) and against what the scenario did
  (the order just placed rests at the price given, the fill is at the ask that was crossed, ...).

Error calls pass when the SDK raised its typed exception (``BadRequestException``,
``NotFoundException``) whose parsed ``ErrorResponse`` carries the simulator's code and message.

The scenario adapts to the SDK era: SDK 3.3+ has only the V2 order calls (``create_order_v2``, ...);
SDK 3.2.0 has only the V1 ones (``create_order``, ...). Reads are the same.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import traceback
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

import kalshi_python_sync as sdk
from kalshi_python_sync.auth import KalshiAuth

ONE = Decimal(1)


class CheckFailed(AssertionError):
    """A value check of a call failed."""


def ensure(condition: bool, message: str) -> None:
    """Raise :class:`CheckFailed` with ``message`` unless ``condition``."""
    if not condition:
        raise CheckFailed(message)


def _parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def lossless(parsed: Any, raw: Any, path: str = "$") -> None:
    """Check that every field of the SDK's parsed value equals the raw JSON the simulator sent.

    Raises:
        CheckFailed: naming the JSON path of the first difference.

    """
    if hasattr(parsed, "to_dict") and not isinstance(parsed, dict):
        parsed = parsed.to_dict()
    if isinstance(parsed, dict):
        ensure(isinstance(raw, dict), f"{path}: parsed an object from {type(raw).__name__}")
        for key, value in parsed.items():
            if value is None:
                continue
            ensure(key in raw, f"{path}.{key}: in the parsed model but not in the body")
            lossless(value, raw[key], f"{path}.{key}")
        return
    if isinstance(parsed, list):
        ensure(isinstance(raw, list) and len(raw) == len(parsed), f"{path}: list length differs")
        for index, (a, b) in enumerate(zip(parsed, raw, strict=True)):
            lossless(a, b, f"{path}[{index}]")
        return
    if isinstance(parsed, dt.datetime):
        ensure(isinstance(raw, str) and _parse_time(raw) == parsed, f"{path}: {parsed!r} != {raw!r}")
        return
    if hasattr(parsed, "value") and not isinstance(parsed, (str, int, float, bool)):  # an Enum
        parsed = parsed.value
    ensure(parsed == raw, f"{path}: parsed {parsed!r} but the body has {raw!r}")


class Driver:
    """One scenario run against one simulator with one SDK; collects pass/fail per call."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.rest_url: str = config["rest_url"]
        self.control_url: str = config["control_url"]
        self.key_id: str = config["key_id"]
        self.pem: str = config["private_key_pem"]
        conf = sdk.Configuration(host=self.rest_url)
        conf.api_key_id = self.key_id
        conf.private_key_pem = self.pem
        self.client = sdk.KalshiClient(conf)
        self.raw_auth = KalshiAuth(self.key_id, self.pem)
        self._last_body: bytes | None = None
        original = self.client.response_deserialize

        def capture(response_data: Any, response_types_map: Any = None) -> Any:
            self._last_body = response_data.data
            return original(response_data, response_types_map)

        self.client.response_deserialize = capture
        self.market_api = sdk.MarketApi(self.client)
        self.events_api = sdk.EventsApi(self.client)
        self.exchange_api = sdk.ExchangeApi(self.client)
        self.portfolio_api = sdk.PortfolioApi(self.client)
        self.orders_api = sdk.OrdersApi(self.client)
        self.groups_api = sdk.OrderGroupsApi(self.client)
        self.account_api = sdk.AccountApi(self.client) if hasattr(sdk, "AccountApi") else None
        self.v2 = hasattr(self.orders_api, "create_order_v2")
        self.legacy_status = bool(config.get("legacy_market_status"))
        self.calls: list[dict[str, Any]] = []

    # -- plumbing ---------------------------------------------------------------------------------
    def call(self, name: str, fn: Callable[[], Any], check: Callable[[Any], None] | None = None) -> Any:
        """Run one SDK call; record it as passed only if it parsed, is lossless and passes ``check``."""
        self._last_body = None
        try:
            result = fn()
            if result is not None and self._last_body:
                lossless(result, json.loads(self._last_body))
            if check is not None:
                check(result)
        except Exception as exc:  # every failure is recorded, the scenario goes on
            self._record(name, False, _describe(exc))
            return None
        self._record(name, True, None)
        return result

    def _record(self, name: str, ok: bool, error: str | None, kind: str = "call") -> None:
        self.calls.append({"name": name, "ok": bool(ok), "error": None if ok else error, "kind": kind})

    def note(self, name: str, ok: bool, error: str | None) -> None:
        """Record a scenario-level check (not an SDK call): pagination coverage, state after a call."""
        self._record(name, ok, error, kind="check")

    def expect_error(self, name: str, fn: Callable[[], Any], exc_type: type[BaseException], code: str) -> None:
        """Record a call that must raise the SDK's ``exc_type`` carrying the simulator's ``code`` and message."""
        try:
            fn()
        except exc_type as exc:
            # The parsed ErrorResponse: the SDK fills ``data`` where the spec maps the status to it;
            # otherwise parse the body with the SDK's own ErrorResponse model, as its users do.
            data = getattr(exc, "data", None)
            body = getattr(exc, "body", None)
            if data is None and body:
                data = sdk.ErrorResponse.from_json(body)
            problems = []
            if data is None or getattr(data, "code", None) != code:
                problems.append(f"ErrorResponse.code is {getattr(data, 'code', None)!r}, expected {code!r}")
            if data is None or not getattr(data, "message", None):
                problems.append("ErrorResponse.message is empty")
            ok = not problems
            self._record(name, ok, None if ok else "; ".join(problems))
            return
        except Exception as exc:
            self._record(name, False, "wrong exception: " + _describe(exc))
            return
        self._record(name, False, f"no {exc_type.__name__} raised")

    def walk_pages(self, name: str, fetch: Callable[..., Any], items: str, key: str) -> list[str]:
        """Follow ``cursor`` from the first page to the last, one recorded call per page.

        Returns the ``key`` of every item of every page, in order (stops at a failed page).
        """
        seen: list[str] = []
        cursor = None
        for page in range(1, 50):
            r = self.call(f"{name} page {page}", partial(fetch, cursor=cursor))
            if r is None:
                break
            seen.extend(getattr(item, key) for item in getattr(r, items))
            if not r.cursor:
                break
            cursor = r.cursor
        return seen

    def served_status(self, status: str) -> str:
        """The REST status the simulator serves for a lifecycle status (``settled`` for ``finalized`` when
        started with ``legacy_market_status``)."""
        return "settled" if self.legacy_status and status == "finalized" else status

    def ctl(self, method: str, path: str, body: Any = None) -> Any:
        """A control-API call (``/sim/v1``): arrange and inspect what the simulator holds."""
        return _http(method, self.control_url + path, body)

    def raw(self, method: str, path: str, body: Any = None) -> Any:
        """A signed Trade API call made without the SDK (scenario set-up only, never counted)."""
        headers = self.raw_auth.create_auth_headers(method, "/trade-api/v2" + path.split("?")[0])
        return _http(method, self.rest_url + path, body, headers)

    def account(self) -> dict[str, Any]:
        """The simulator's own view of this account."""
        return self.ctl("GET", f"/accounts/{self.key_id}")

    def ctl_markets(self) -> list[dict[str, Any]]:
        """Every market with its lifecycle status, from the control API."""
        return self.ctl("GET", "/markets")["markets"]

    def advance(self, seconds: float) -> None:
        """Step the exchange clock forward (applies every tape frame due)."""
        self.ctl("POST", "/clock/advance", {"seconds": str(seconds)})

    # -- scenario ---------------------------------------------------------------------------------
    def run(self) -> None:
        """The whole scenario: public reads, orders, fills, order groups, errors, settlement."""
        markets = self.ctl_markets()
        active = [m for m in markets if m["status"] == "active"]
        if not active:
            raise RuntimeError("the simulator has no active market to trade")
        self.ticker = active[0]["ticker"]
        self.event_ticker = active[0]["event_ticker"]
        self.series_ticker = active[0]["series_ticker"]
        self.exchange_reads()
        self.market_reads(markets)
        self.event_and_series_reads(markets)
        self.portfolio_reads_empty()
        if self.v2:
            self.orders_v2()
        else:
            self.orders_v1()
        self.taker_fill()
        self.order_groups()
        self.errors()
        self.settlement()

    def exchange_reads(self) -> None:
        """``/exchange/*`` and ``/account/limits``."""
        self.call(
            "get_exchange_status",
            self.exchange_api.get_exchange_status,
            lambda r: ensure(r.exchange_active and r.trading_active, "exchange or trading not active"),
        )
        self.call(
            "get_exchange_schedule",
            self.exchange_api.get_exchange_schedule,
            lambda r: ensure(len(r.schedule.standard_hours) == 1, "expected one standard_hours entry"),
        )
        now = _parse_time(self.ctl("GET", "/clock")["now"])
        self.call(
            "get_user_data_timestamp",
            self.exchange_api.get_user_data_timestamp,
            lambda r: ensure(r.as_of_time == now, f"as_of_time {r.as_of_time} != exchange clock {now}"),
        )
        if self.account_api is not None:
            self.call(
                "get_account_api_limits",
                self.account_api.get_account_api_limits,
                lambda r: ensure(r.usage_tier != "", "empty usage_tier"),
            )

    def market_reads(self, markets: list[dict[str, Any]]) -> None:
        """``/markets`` with every filter and cursor pagination, one market, order books, trades."""
        api = self.market_api
        status_of = {m["ticker"]: self.served_status(m["status"]) for m in markets}
        all_tickers = [m["ticker"] for m in markets]

        def same_markets(expected: list[str]) -> Callable[[Any], None]:
            def check(r: Any) -> None:
                got = [m.ticker for m in r.markets]
                ensure(got == expected, f"tickers {got} != {expected}")
                for m in r.markets:
                    ensure(m.status == status_of[m.ticker], f"{m.ticker} status {m.status} != {status_of[m.ticker]}")

            return check

        self.call("get_markets", lambda: api.get_markets(), same_markets(all_tickers))
        pages = self.walk_pages("get_markets(limit=7)", partial(api.get_markets, limit=7), "markets", "ticker")
        self.note(
            "get_markets pagination covers every market once",
            pages == all_tickers,
            None if pages == all_tickers else f"paged {len(pages)} tickers, expected {len(all_tickers)}",
        )
        by_filter = {
            "open": ("active",),
            "settled": ("finalized",),
            "unopened": ("initialized",),
            "closed": ("closed", "determined", "disputed", "amended"),
        }
        for name, statuses in by_filter.items():
            expected = [m["ticker"] for m in markets if m["status"] in statuses]
            self.call(f"get_markets(status={name})", partial(api.get_markets, status=name), same_markets(expected))
        self.call(
            "get_markets(event_ticker)",
            lambda: api.get_markets(event_ticker=self.event_ticker),
            same_markets([m["ticker"] for m in markets if m["event_ticker"] == self.event_ticker]),
        )
        self.call(
            "get_markets(series_ticker)",
            lambda: api.get_markets(series_ticker=self.series_ticker),
            same_markets([m["ticker"] for m in markets if m["series_ticker"] == self.series_ticker]),
        )
        pair = all_tickers[:2]
        self.call("get_markets(tickers)", lambda: api.get_markets(tickers=",".join(pair)), same_markets(pair))
        close_s = int(_parse_time(active_close := status_close(markets, self.ticker)).timestamp())
        self.call(
            "get_markets(min_close_ts, max_close_ts)",
            lambda: api.get_markets(min_close_ts=close_s, max_close_ts=close_s),
            same_markets([m["ticker"] for m in markets if m["close_time"] == active_close]),
        )
        book = self.raw("GET", f"/markets/{self.ticker}/orderbook")["orderbook_fp"]
        yes_levels, no_levels = book["yes_dollars"], book["no_dollars"]
        self.best_yes_bid = Decimal(yes_levels[-1][0]) if yes_levels else None
        self.best_yes_bid_size = Decimal(yes_levels[-1][1]) if yes_levels else Decimal(0)
        self.best_yes_ask = ONE - Decimal(no_levels[-1][0]) if no_levels else None

        def market_check(r: Any) -> None:
            m = r.market
            ensure(m.ticker == self.ticker and m.status == "active", f"{m.ticker} {m.status}")
            if self.best_yes_bid is not None:
                ensure(Decimal(m.yes_bid_dollars) == self.best_yes_bid, "yes_bid_dollars is not the best book bid")
            if self.best_yes_ask is not None:
                ensure(Decimal(m.yes_ask_dollars) == self.best_yes_ask, "yes_ask_dollars is not 1 - best NO bid")

        self.call("get_market", lambda: api.get_market(self.ticker), market_check)

        def book_check(r: Any) -> None:
            yes, no = _levels(r)
            ensure(yes == yes_levels, "yes levels differ from the book")
            ensure(no == no_levels, "no levels differ from the book")

        self.call("get_market_orderbook", lambda: api.get_market_orderbook(self.ticker), book_check)
        self.call(
            "get_market_orderbook(depth=1)",
            lambda: api.get_market_orderbook(self.ticker, depth=1),
            lambda r: ensure(_levels(r) == (yes_levels[-1:], no_levels[-1:]), "depth=1 is not the best level"),
        )
        if hasattr(api, "get_market_orderbooks"):
            self.call(
                "get_market_orderbooks",
                lambda: api.get_market_orderbooks(tickers=pair),
                lambda r: ensure([b.ticker for b in r.orderbooks] == pair, "order books of other tickers"),
            )
        self.call("get_trades", lambda: api.get_trades(limit=100))

    def event_and_series_reads(self, markets: list[dict[str, Any]]) -> None:
        """``/events``, ``/events/{ticker}``, ``/series``, ``/series/{ticker}``."""
        events_in_order: list[str] = []
        for m in markets:
            if m["event_ticker"] not in events_in_order:
                events_in_order.append(m["event_ticker"])
        api = self.events_api

        def same_events(expected: list[str]) -> Callable[[Any], None]:
            return lambda r: ensure([e.event_ticker for e in r.events] == expected, "event tickers differ")

        self.call("get_events", lambda: api.get_events(), same_events(events_in_order))
        self.call(
            "get_events(with_nested_markets)",
            lambda: api.get_events(with_nested_markets=True),
            lambda r: ensure(
                all(m.event_ticker == e.event_ticker for e in r.events for m in (e.markets or []))
                and sum(len(e.markets or []) for e in r.events) == len(markets),
                "nested markets do not match their events",
            ),
        )
        open_events = [
            e for e in events_in_order if any(m["status"] == "active" and m["event_ticker"] == e for m in markets)
        ]
        self.call(
            "get_events(series_ticker, status=open)",
            lambda: api.get_events(series_ticker=self.series_ticker, status="open"),
            same_events(open_events),
        )
        paged = self.walk_pages("get_events(limit=10)", partial(api.get_events, limit=10), "events", "event_ticker")
        self.note(
            "get_events pagination covers every event once",
            paged == events_in_order,
            None if paged == events_in_order else "paged events differ",
        )
        expected_markets = [m["ticker"] for m in markets if m["event_ticker"] == self.event_ticker]
        self.call(
            "get_event",
            lambda: api.get_event(self.event_ticker),
            lambda r: ensure(
                r.event.event_ticker == self.event_ticker and [m.ticker for m in r.markets] == expected_markets,
                "wrong event or markets",
            ),
        )
        self.call(
            "get_event(with_nested_markets)",
            lambda: api.get_event(self.event_ticker, with_nested_markets=True),
            lambda r: ensure(r.event.event_ticker == self.event_ticker, "wrong event"),
        )
        self.call(
            "get_series_list",
            lambda: self.market_api.get_series_list(),
            lambda r: ensure(self.series_ticker in [s.ticker for s in r.series], "series missing"),
        )
        self.call(
            "get_series",
            lambda: self.market_api.get_series(self.series_ticker),
            lambda r: ensure(r.series.ticker == self.series_ticker, "wrong series"),
        )

    def portfolio_reads_empty(self) -> None:
        """Balance, positions, fills, settlements and orders of a fresh account."""
        cents = self.account()["balance_cents"]
        self.call(
            "get_balance",
            self.portfolio_api.get_balance,
            lambda r: ensure(r.balance == cents, f"balance {r.balance} != simulator {cents}"),
        )
        self.call(
            "get_positions (none)",
            self.portfolio_api.get_positions,
            lambda r: ensure(not r.market_positions and not r.event_positions, "a new account has positions"),
        )
        self.call("get_fills (none)", self.portfolio_api.get_fills, lambda r: ensure(not r.fills, "fills"))
        self.call("get_orders (none)", self.orders_api.get_orders, lambda r: ensure(not r.orders, "orders"))

    # -- orders -----------------------------------------------------------------------------------
    def _resting_price(self) -> Decimal:
        """A bid price that rests: the best bid (joins its queue) or 1c if the book has no bid."""
        return self.best_yes_bid if self.best_yes_bid is not None else Decimal("0.01")

    def _check_order(self, order_id: str, **expected: Any) -> Callable[[Any], None]:
        def check(r: Any) -> None:
            order = r.order
            ensure(order.order_id == order_id, "wrong order")
            held = next(o for o in self.account()["orders"] if o["order_id"] == order_id)
            for key, value in expected.items():
                got = getattr(order, key)
                got = got.value if hasattr(got, "value") else got
                ensure(got == value, f"{key} is {got!r}, expected {value!r}")
                ensure(held[key] == value, f"simulator holds {key}={held[key]!r}, expected {value!r}")

        return check

    def _common_order_reads(self, order_id: str, price: Decimal) -> None:
        self.call(
            "get_order",
            lambda: self.orders_api.get_order(order_id),
            self._check_order(order_id, status="resting", yes_price_dollars=f"{price:.4f}"),
        )
        self.call(
            "get_orders(ticker, status=resting)",
            lambda: self.orders_api.get_orders(ticker=self.ticker, status="resting"),
            lambda r: ensure(order_id in [o.order_id for o in r.orders], "resting order not listed"),
        )
        ids = self.walk_pages("get_orders(limit=1)", partial(self.orders_api.get_orders, limit=1), "orders", "order_id")
        held = [o["order_id"] for o in sorted(self.account()["orders"], key=lambda o: o["created_time"], reverse=True)]
        self.note(
            "get_orders pagination covers every order once",
            sorted(ids) == sorted(held),
            None if sorted(ids) == sorted(held) else f"paged {ids}, simulator holds {held}",
        )
        ahead = self.best_yes_bid_size if self.best_yes_bid is not None else Decimal(0)
        self.call(
            "get_order_queue_position",
            lambda: self.orders_api.get_order_queue_position(order_id),
            lambda r: ensure(Decimal(_queue(r)) == ahead, f"queue position {_queue(r)} != tape size ahead {ahead}"),
        )
        self.call(
            "get_order_queue_positions",
            lambda: self.orders_api.get_order_queue_positions(market_tickers=self.ticker),
            lambda r: ensure(order_id in [q.order_id for q in r.queue_positions], "order missing"),
        )
        value_cents = int(
            sum(
                Decimal(o["yes_price_dollars"]) * Decimal(o["remaining_count_fp"]) * 100
                for o in self.account()["orders"]
                if o["status"] == "resting" and o["book_side"] == "bid"
            )
        )
        self.call(
            "get_portfolio_resting_order_total_value",
            self.portfolio_api.get_portfolio_resting_order_total_value,
            lambda r: ensure(
                r.total_resting_order_value == value_cents,
                f"{r.total_resting_order_value} != {value_cents} cents of resting bids",
            ),
        )

    def orders_v2(self) -> None:
        """V2 create (with and without client_order_id), reads, amend, decrease, cancel, batches, cancel all."""
        api = self.orders_api
        price = self._resting_price()
        created = self.call(
            "create_order_v2 (no client_order_id)",
            lambda: api.create_order_v2(
                ticker=self.ticker,
                side="bid",
                count="3",
                price=f"{price:.4f}",
                time_in_force="good_till_canceled",
                self_trade_prevention_type="taker_at_cross",
            ),
            lambda r: ensure(r.fill_count == "0.00" and r.remaining_count == "3.00", "not resting 3"),
        )
        coid = uuid.uuid4().hex
        created2 = self.call(
            "create_order_v2",
            lambda: api.create_order_v2(
                ticker=self.ticker,
                side="bid",
                count="2",
                price="0.0100",
                client_order_id=coid,
                time_in_force="good_till_canceled",
                self_trade_prevention_type="taker_at_cross",
            ),
            lambda r: ensure(r.client_order_id == coid and r.remaining_count == "2.00", "wrong echo"),
        )
        order_id = created.order_id if created else self._raw_v2_order(price, 3)
        second_id = created2.order_id if created2 else self._raw_v2_order(Decimal("0.01"), 2)
        self._common_order_reads(order_id, price)
        new_price = max(price - Decimal("0.01"), Decimal("0.01"))
        self.call(
            "amend_order_v2",
            lambda: api.amend_order_v2(order_id, ticker=self.ticker, side="bid", price=f"{new_price:.4f}", count="4"),
            lambda r: ensure(r.remaining_count == "4.00", f"remaining {r.remaining_count} after amend to 4"),
        )
        self.call(
            "get_order after amend",
            lambda: api.get_order(order_id),
            self._check_order(order_id, yes_price_dollars=f"{new_price:.4f}", remaining_count_fp="4.00"),
        )
        self.call(
            "decrease_order_v2",
            lambda: api.decrease_order_v2(order_id, reduce_by="1"),
            lambda r: ensure(r.remaining_count == "3.00", f"remaining {r.remaining_count} after reduce_by 1"),
        )
        self.call(
            "cancel_order_v2",
            lambda: api.cancel_order_v2(order_id),
            lambda r: ensure(r.reduced_by == "3.00" and r.order_id == order_id, f"reduced_by {r.reduced_by}"),
        )
        self.call(
            "get_order after cancel", lambda: api.get_order(order_id), self._check_order(order_id, status="canceled")
        )
        batch = self.call(
            "batch_create_orders_v2",
            lambda: api.batch_create_orders_v2(
                orders=[
                    sdk.CreateOrderV2Request(
                        ticker=self.ticker,
                        side="bid",
                        count="1",
                        price="0.0100",
                        client_order_id=uuid.uuid4().hex,
                        time_in_force="good_till_canceled",
                        self_trade_prevention_type="taker_at_cross",
                    )
                    for _ in range(2)
                ]
            ),
            lambda r: ensure(len(r.orders) == 2 and all(o.order_id and o.error is None for o in r.orders), "batch"),
        )
        batch_ids = [o.order_id for o in batch.orders] if batch else []
        if batch_ids:
            self.call(
                "batch_cancel_orders_v2",
                lambda: api.batch_cancel_orders_v2(
                    orders=[sdk.BatchCancelOrdersV2RequestOrdersInner(order_id=i) for i in batch_ids]
                ),
                lambda r: ensure(
                    [o.order_id for o in r.orders] == batch_ids and all(o.reduced_by == "1.00" for o in r.orders),
                    "batch cancel",
                ),
            )
        self.call("cancel_all_orders", lambda: api.cancel_all_orders())
        still = [o["order_id"] for o in self.account()["orders"] if o["status"] == "resting"]
        self.note(
            "cancel_all_orders left nothing resting",
            not still and second_id is not None,
            None if not still else f"still resting: {still}",
        )

    def orders_v1(self) -> None:
        """V1 create (with and without client_order_id), reads, amend, decrease, cancel, batches."""
        api = self.orders_api
        price = self._resting_price()
        cents = int(price * 100)
        coid = uuid.uuid4().hex
        created = self.call(
            "create_order",
            lambda: api.create_order(
                ticker=self.ticker,
                side="yes",
                action="buy",
                count=3,
                yes_price=cents,
                client_order_id=coid,
            ),
            lambda r: ensure(r.order.client_order_id == coid and r.order.remaining_count == 3, "not resting 3"),
        )
        self.call(
            "create_order (no client_order_id)",
            lambda: api.create_order(ticker=self.ticker, side="yes", action="buy", count=1, yes_price=1),
            lambda r: ensure(r.order.status == "resting", "not resting"),
        )
        order_id = created.order.order_id if created else self._raw_v1_order(cents, 3, coid)
        self._common_order_reads(order_id, price)
        new_cents = max(cents - 1, 1)
        new_coid = uuid.uuid4().hex
        self.call(
            "amend_order",
            lambda: api.amend_order(
                order_id,
                ticker=self.ticker,
                side="yes",
                action="buy",
                yes_price=new_cents,
                count=4,
                client_order_id=coid,
                updated_client_order_id=new_coid,
            ),
            lambda r: ensure(r.order.yes_price == new_cents and r.order.remaining_count == 4, "amend"),
        )
        self.call(
            "decrease_order",
            lambda: api.decrease_order(order_id, reduce_by=1),
            lambda r: ensure(r.order.remaining_count == 3, f"remaining {r.order.remaining_count}"),
        )
        self.call(
            "cancel_order",
            lambda: api.cancel_order(order_id),
            lambda r: ensure(r.order.status == "canceled" and r.reduced_by == 3, f"reduced_by {r.reduced_by}"),
        )
        batch = self.call(
            "batch_create_orders",
            lambda: api.batch_create_orders(
                orders=[
                    sdk.CreateOrderRequest(
                        ticker=self.ticker,
                        side="yes",
                        action="buy",
                        count=1,
                        yes_price=1,
                        client_order_id=uuid.uuid4().hex,
                    )
                    for _ in range(2)
                ]
            ),
            lambda r: ensure(len(r.orders) == 2 and all(o.order is not None for o in r.orders), "batch"),
        )
        ids = [o.order.order_id for o in batch.orders] if batch else []
        if ids:
            self.call(
                "batch_cancel_orders",
                lambda: api.batch_cancel_orders(ids=ids),
                lambda r: ensure([o.order_id for o in r.orders] == ids, "batch cancel"),
            )
        for o in self.account()["orders"]:
            if o["status"] == "resting":
                self.raw("DELETE", f"/portfolio/orders/{o['order_id']}")

    def _raw_v2_order(self, price: Decimal, count: int) -> str:
        body = {
            "ticker": self.ticker,
            "side": "bid",
            "count": str(count),
            "price": f"{price:.4f}",
            "client_order_id": uuid.uuid4().hex,
            "time_in_force": "good_till_canceled",
            "self_trade_prevention_type": "taker_at_cross",
        }
        return self.raw("POST", "/portfolio/events/orders", body)["order_id"]

    def _raw_v1_order(self, cents: int, count: int, coid: str) -> str:
        body = {
            "ticker": self.ticker,
            "side": "yes",
            "action": "buy",
            "count": count,
            "yes_price": cents,
            "client_order_id": coid,
        }
        return self.raw("POST", "/portfolio/orders", body)["order"]["order_id"]

    def taker_fill(self) -> None:
        """Buy 2 YES at the ask (a taker fill), then fills, positions, trades and balance."""
        ask = self.best_yes_ask
        if ask is None:
            self.note("taker fill", False, "the book has no ask to cross")
            return
        if self.v2:
            self.call(
                "create_order_v2 (taker, immediate_or_cancel)",
                lambda: self.orders_api.create_order_v2(
                    ticker=self.ticker,
                    side="bid",
                    count="2",
                    price=f"{ask:.4f}",
                    client_order_id=uuid.uuid4().hex,
                    time_in_force="immediate_or_cancel",
                    self_trade_prevention_type="taker_at_cross",
                ),
                lambda r: ensure(r.fill_count == "2.00" and Decimal(r.average_fill_price) == ask, "not filled at ask"),
            )
        else:
            self.call(
                "create_order (taker)",
                lambda: self.orders_api.create_order(
                    ticker=self.ticker,
                    side="yes",
                    action="buy",
                    count=2,
                    yes_price=int(ask * 100),
                    client_order_id=uuid.uuid4().hex,
                    time_in_force="immediate_or_cancel",
                ),
                lambda r: ensure(r.order.fill_count == 2 and r.order.status == "executed", "not filled"),
            )
        held = self.account()
        fill = held["fills"][-1] if held["fills"] else None
        if fill is None:
            self.note("taker fill", False, "no fill in the simulator")
            return
        self.call(
            "get_fills",
            lambda: self.portfolio_api.get_fills(ticker=self.ticker),
            lambda r: ensure(
                [f.fill_id for f in r.fills] == [fill["fill_id"]]
                and _dollars(r.fills[0], "yes_price") == ask
                and _count(r.fills[0], "count") == 2
                and r.fills[0].is_taker,
                "fills differ from the simulator's",
            ),
        )
        self.call(
            "get_fills(order_id)",
            lambda: self.portfolio_api.get_fills(order_id=fill["order_id"]),
            lambda r: ensure([f.order_id for f in r.fills] == [fill["order_id"]], "wrong fills"),
        )
        position = next(p for p in held["positions"] if p["ticker"] == self.ticker)
        self.call(
            "get_positions",
            lambda: self.portfolio_api.get_positions(),
            lambda r: ensure(
                [(p.ticker, _count(p, "position"), _dollars(p, "market_exposure")) for p in r.market_positions]
                == [(self.ticker, Decimal(position["position_fp"]), Decimal(position["market_exposure_dollars"]))]
                and [e.event_ticker for e in r.event_positions] == [self.event_ticker],
                "positions differ from the simulator's",
            ),
        )
        self.call(
            "get_positions(count_filter=position, ticker)",
            lambda: self.portfolio_api.get_positions(count_filter="position", ticker=self.ticker),
            lambda r: ensure(len(r.market_positions) == 1, "position filtered out"),
        )
        self.call(
            "get_trades(ticker)",
            lambda: self.market_api.get_trades(ticker=self.ticker, limit=1),
            lambda r: ensure(len(r.trades) == 1 and r.trades[0].ticker == self.ticker, "latest trade missing"),
        )
        cents = held["balance_cents"]
        self.call(
            "get_balance after fill",
            self.portfolio_api.get_balance,
            lambda r: ensure(r.balance == cents, f"balance {r.balance} != simulator {cents}"),
        )

    def order_groups(self) -> None:
        """Create, list, get (with an order), update limit, trigger, reset, delete."""
        api = self.groups_api
        created = self.call(
            "create_order_group",
            lambda: api.create_order_group(contracts_limit=10),
            lambda r: ensure(bool(r.order_group_id), "no id"),
        )
        if created is None:
            group_id = self.raw("POST", "/portfolio/order_groups/create", {"contracts_limit": 10})["order_group_id"]
        else:
            group_id = created.order_group_id
        self.call(
            "get_order_groups",
            lambda: api.get_order_groups(),
            lambda r: ensure(group_id in [g.id for g in r.order_groups], "group not listed"),
        )
        if self.v2:
            body = {
                "ticker": self.ticker,
                "side": "bid",
                "count": "1",
                "price": "0.0100",
                "client_order_id": uuid.uuid4().hex,
                "time_in_force": "good_till_canceled",
                "self_trade_prevention_type": "taker_at_cross",
                "order_group_id": group_id,
            }
            order_id = self.raw("POST", "/portfolio/events/orders", body)["order_id"]
        else:
            body = {
                "ticker": self.ticker,
                "side": "yes",
                "action": "buy",
                "count": 1,
                "yes_price": 1,
                "client_order_id": uuid.uuid4().hex,
                "order_group_id": group_id,
            }
            order_id = self.raw("POST", "/portfolio/orders", body)["order"]["order_id"]
        self.call(
            "get_order_group",
            lambda: api.get_order_group(group_id),
            lambda r: ensure(r.orders == [order_id] and r.is_auto_cancel_enabled, f"orders {r.orders}"),
        )
        if hasattr(api, "update_order_group_limit"):
            self.call("update_order_group_limit", lambda: api.update_order_group_limit(group_id, contracts_limit=20))
            self.call(
                "get_order_group after limit",
                lambda: api.get_order_group(group_id),
                lambda r: ensure(r.contracts_limit_fp == "20.00", f"limit {r.contracts_limit_fp}"),
            )
        if hasattr(api, "trigger_order_group"):
            self.call("trigger_order_group", lambda: api.trigger_order_group(group_id))
            self.call(
                "get_order_group after trigger",
                lambda: api.get_order_group(group_id),
                lambda r: ensure(r.orders == [], "a triggered group still has resting orders"),
            )
        self.call("reset_order_group", lambda: api.reset_order_group(group_id))
        self.call("delete_order_group", lambda: api.delete_order_group(group_id))
        self.expect_error(
            "get_order_group after delete -> NotFoundException",
            lambda: api.get_order_group(group_id),
            sdk.NotFoundException,
            "not_found",
        )
        for o in self.account()["orders"]:
            if o["status"] == "resting":
                self.raw("DELETE", f"/portfolio/orders/{o['order_id']}")

    def errors(self) -> None:
        """Rejects surface as the SDK's typed exceptions carrying the simulator's code and message."""
        self.expect_error(
            "get_market(unknown) -> NotFoundException",
            lambda: self.market_api.get_market("NO-SUCH-MARKET"),
            sdk.NotFoundException,
            "not_found",
        )
        if self.v2:
            bad = lambda: self.orders_api.create_order_v2(  # noqa: E731
                ticker=self.ticker,
                side="bid",
                count="1",
                price="0.00001",
                client_order_id=uuid.uuid4().hex,
                time_in_force="good_till_canceled",
                self_trade_prevention_type="taker_at_cross",
            )
        else:
            bad = lambda: self.orders_api.create_order(  # noqa: E731
                ticker=self.ticker,
                side="yes",
                action="buy",
                count=1,
                yes_price_dollars="0.00001",
                client_order_id=uuid.uuid4().hex,
            )
        self.expect_error(
            "create order off the tick grid -> BadRequestException", bad, sdk.BadRequestException, "invalid_order"
        )

    def settlement(self) -> None:
        """Force-close the traded market with result yes, let it finalize, read settlements and the market."""
        self.ctl("POST", f"/markets/{self.ticker}/close", {"result": "yes"})
        for _ in range(200):
            status = next(m["status"] for m in self.ctl_markets() if m["ticker"] == self.ticker)
            if status == "finalized":
                break
            self.advance(5)
        held = self.account()
        rows = [s for s in held["settlements"] if s["ticker"] == self.ticker]
        self.call(
            "get_settlements",
            lambda: self.portfolio_api.get_settlements(),
            lambda r: ensure(
                [(s.ticker, s.market_result, _count(s, "yes_count"), s.revenue) for s in r.settlements]
                == [(x["ticker"], x["market_result"], Decimal(x["yes_count_fp"]), x["revenue"]) for x in rows]
                and len(rows) == 1
                and rows[0]["revenue"] == 200,
                "settlements differ from the simulator's",
            ),
        )
        self.call(
            "get_market (finalized)",
            lambda: self.market_api.get_market(self.ticker),
            lambda r: ensure(
                r.market.status == self.served_status("finalized") and r.market.result == "yes", f"{r.market.status}"
            ),
        )
        self.call(
            "get_markets(status=settled) after settlement",
            lambda: self.market_api.get_markets(status="settled"),
            lambda r: ensure(self.ticker in [m.ticker for m in r.markets], "settled market missing"),
        )
        self.call(
            "get_positions after settlement",
            lambda: self.portfolio_api.get_positions(),
            lambda r: ensure(
                all(p.ticker != self.ticker or _count(p, "position") == 0 for p in r.market_positions),
                "a settled position is still open",
            ),
        )
        cents = held["balance_cents"]
        self.call(
            "get_balance after settlement",
            self.portfolio_api.get_balance,
            lambda r: ensure(r.balance == cents, f"balance {r.balance} != simulator {cents}"),
        )


def status_close(markets: list[dict[str, Any]], ticker: str) -> str:
    """The served close_time of ``ticker`` from the control API's market list."""
    return next(m["close_time"] for m in markets if m["ticker"] == ticker)


def _queue(r: Any) -> str:
    return r.queue_position_fp if getattr(r, "queue_position_fp", None) is not None else str(r.queue_position)


def _levels(r: Any) -> tuple[list[list[str]], list[list[str]]]:
    """The ``[price, count]`` string levels of an order-book response (``orderbook_fp``, or SDK 3.2.0's
    ``orderbook.yes_dollars``)."""
    book = getattr(r, "orderbook_fp", None) or r.orderbook
    return [list(x) for x in book.yes_dollars or []], [list(x) for x in book.no_dollars or []]


def _dollars(obj: Any, name: str) -> Decimal:
    """A money field in dollars from whichever era's field the SDK model has: ``name_dollars``,
    ``name_fixed`` (SDK 3.2.0 fills) or the legacy integer cents ``name``."""
    for suffix in ("_dollars", "_fixed"):
        value = getattr(obj, name + suffix, None)
        if value is not None:
            return Decimal(value)
    return Decimal(getattr(obj, name)) / 100


def _count(obj: Any, name: str) -> Decimal:
    """A contract count from ``name_fp`` (current) or the legacy integer ``name`` (SDK 3.2.0)."""
    value = getattr(obj, name + "_fp", None)
    return Decimal(value) if value is not None else Decimal(getattr(obj, name))


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    body = getattr(exc, "body", None)
    if body:
        text = f"{type(exc).__name__} {getattr(exc, 'status', '')}: {body}"
    lines = [line for line in text.splitlines() if line.strip()]
    return " | ".join(lines[:6])[:600]


def _http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"{method} {url}: {exc.code} {exc.read()[:300]!r}") from exc
    return json.loads(raw) if raw.strip() else None


def main() -> int:
    """Run the scenario described by the JSON config file given as the only argument; print the report."""
    with open(sys.argv[1]) as fh:
        config = json.load(fh)
    driver = Driver(config)
    fatal = None
    try:
        driver.run()
    except Exception:
        fatal = traceback.format_exc()
    passed = sum(1 for c in driver.calls if c["ok"])
    report = {
        "sdk_version": sdk.__version__,
        "python": sys.version.split()[0],
        "calls": driver.calls,
        "passed": passed,
        "tried": len(driver.calls),
        "fatal": fatal,
    }
    json.dump(report, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
