"""Batch decisions without trading: what the configured (or any) policy would do now in each market.

The ``predict`` activity (:mod:`activities.trading`) runs :func:`predict` for the workflow, e.g. a close path that
wants the policy's view of a market. It uses the worker's :class:`trading.live.PolicyLibrary` (the same loaded
model an epoch uses, sampling from its own seeded generator), the same decision step as an epoch
(:class:`trading.pipeline.DecisionStep`: checks, mask, observation, intent) and, where this worker holds market data,
its live books and feature history; other markets are read over REST (no history: a learned policy cannot decide
there and says ``feature_error``). Nothing is sent to the exchange.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from kalshi.convert import top_of_book
from kalshi.ingest import MarketDataHub
from kalshi.rest import KalshiRestClient
from models.trader import EpochInput, EpochSettings, PredictedDecision, PredictInput, PredictResult
from trading.live import PolicyLibrary
from trading.pipeline import BookUpdate, DecisionStep

__all__ = ["predict"]


async def predict(
    inp: PredictInput, client: KalshiRestClient, policies: PolicyLibrary, hub: MarketDataHub | None = None
) -> PredictResult:
    """The policy's decision for each market of ``inp`` (see the module docstring).

    Raises:
        kalshi.errors.KalshiError: the REST order books could not be read (the activity maps it).
        rl.decision.LimitsError: limits finer than the exchange's grids.
    """
    settings = EpochSettings.model_validate({**inp.settings.model_dump(), "policy": inp.policy})
    feed = hub.feed if hub is not None else None
    live = await policies.resolve(settings, inp.risk, live_books=feed is not None, purpose="predict")
    epoch = EpochInput(
        epoch_id="predict",
        deadline=datetime.now(UTC),
        markets=inp.markets,
        positions=inp.positions,
        balance_cents=inp.balance_cents,
        risk=inp.risk,
        exits=inp.exits,
        settings=settings,
    )
    live = dataclasses.replace(live, interval_ms=0)  # one decision per market, now
    step = DecisionStep(
        epoch,
        live,
        fills_from_acks=True,
        features=policies.features if live.needs_features else None,
    )
    close_ms = {m.ticker: None if m.close_time is None else int(m.close_time.timestamp() * 1000) for m in inp.markets}
    tickers = [m.ticker for m in inp.markets]
    live_books = {}
    if feed is not None:
        for ticker in tickers:
            book = feed.usable_book(ticker, max_connection_idle_ms=settings.max_connection_idle_ms)
            if book is not None:
                live_books[ticker] = book
    missing = [t for t in tickers if t not in live_books]
    rest_books = await client.get_orderbooks(missing) if missing else {}
    clock_ms = int(client.exchange_now().timestamp() * 1000)
    now_ms = hub.exchange_ms if hub is not None and hub.exchange_ms is not None and live_books else clock_ms
    out: list[PredictedDecision] = []
    for ticker in tickers:
        book = live_books.get(ticker)
        if book is not None:
            update = BookUpdate(ticker, book.top(), now_ms, close_ms[ticker], 0.0, book)
        elif ticker in rest_books:
            update = BookUpdate(ticker, top_of_book(rest_books[ticker]), clock_ms, close_ms[ticker], 0.0)
        else:
            continue
        ctx = step.pipeline.context(ticker, update.top, update.now_ms, update.close_ms)
        mask = step.pipeline.mask(ctx)
        decision = step.decide(update)
        assert decision is not None  # the interval is 0: every update is a decision point
        intent = decision.intent
        out.append(
            PredictedDecision(
                ticker=ticker,
                action=decision.action,
                allowed=[name for name, ok in zip(live.space.names, mask, strict=True) if ok],
                reject=decision.reject,
                side=intent.side if intent else None,
                order_action=intent.action if intent else None,
                count_contracts=intent.count_contracts if intent else None,
                price_dollars=intent.price_dollars if intent else None,
                time_in_force=intent.time_in_force if intent else None,
                book_source="websocket" if book is not None else "rest",
            )
        )
    return PredictResult(policy=live.info, decisions=out)
