"""Record the LIVE WebSocket feed, export it, replay the export in a second simulator: identical books.

The recording path is the product's (``IngestionLoop`` + ``Recorder``, the same code the worker's
ingestion activity and ``kalshi-trader record`` run) over a real socket from the simulator replaying the
real tape.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx

from kalshi.ingest import IngestionLoop, MarketDataHub
from models.market_data import IngestInput, IngestSettings
from recording.recorder import Recorder
from recording.tape import export_ndjson
from simulator.server import SimulatorConfig, SimulatorServer
from tests.conftest import Account, eventually
from tests.harness import SERIES
from tests.persistence.conftest import requires_tape


def _levels(book) -> tuple[list, list]:
    return ([(lvl[0], lvl[1]) for lvl in book.yes_bids], [(lvl[0], lvl[1]) for lvl in book.no_bids])


@requires_tape
async def test_record_export_replay_gives_identical_books(
    sim: SimulatorServer, account: Account, control: httpx.AsyncClient, tmp_path, db_url
) -> None:
    rest = account.client
    # The clock runs at speed 1 from the simulator's start, so served time = wall time: the export places
    # snapshots by receipt time and deltas by exchange time, as the public tapes do (one clock for both).
    [market] = [m for m in await rest.get_markets(series_ticker=SERIES, status="open")]

    recorder = Recorder(db_url, environment="sim", label="round-trip").start()
    hub = MarketDataHub("round-trip")
    stop = asyncio.Event()
    inp = IngestInput(
        series_tickers=[SERIES], settings=IngestSettings(discovery_interval_s=1, heartbeat_interval_s=0.2)
    )
    loop = IngestionLoop(rest, sim.ws_url, account.signer, hub, recorder, inp)
    task = asyncio.create_task(loop.run(should_stop=stop.is_set))

    async def book_ready():
        feed = hub.feed
        book = feed.usable_book(market.ticker, max_connection_idle_ms=15_000) if feed else None
        return book is not None and book.best_yes_bid_cc is not None

    await eventually(book_ready, timeout_s=30, what="the live book (the tape's first snapshot is 9 s in)")
    await asyncio.sleep(8)  # record ~8 s of live deltas from the tape
    await control.put("/clock", json={"paused": True})
    clock = (await control.get("/clock")).json()

    async def converged():
        rest_book = await rest.get_orderbook(market.ticker)
        ours = hub.feed.book(market.ticker).snapshot()
        wire = (
            [(Decimal(p), Decimal(c)) for p, c in ours.get("yes_dollars_fp", [])],
            [(Decimal(p), Decimal(c)) for p, c in ours.get("no_dollars_fp", [])],
        )
        return _levels(rest_book) if wire == _levels(rest_book) else None

    book_at_t = await eventually(converged, timeout_s=30, what="the recorded book to equal the exchange's")
    deltas = hub.feed.counters.deltas_applied
    assert deltas > 10, "live deltas were recorded"
    # A result makes the market replayable (MARKETS.csv): force the close (after T, so the market is still
    # open at T in the replay) and its determination.
    await control.post("/clock/advance", json={"seconds": 5})
    await control.post(f"/markets/{market.ticker}/close", json={"result": "yes"})
    await control.post("/clock/advance", json={"seconds": 120})
    await eventually(
        lambda: recorder.stats().enqueued > 0 and recorder.stats().queue_depth == 0,
        timeout_s=30,
        what="the recorder to drain",
    )
    stop.set()
    await task
    assert await recorder.aclose()
    assert recorder.stats().dropped == 0

    out = tmp_path / "export"
    result = export_ndjson(db_url, recorder.session_id, out)
    assert market.ticker not in result.unresolved
    assert result.frames > deltas

    replay = SimulatorConfig(port=0, data_dir=out, start=clock["now"], paused=True)
    async with SimulatorServer(replay) as sim_b, httpx.AsyncClient(base_url=sim_b.rest_url) as http:
        r = await http.get(f"/markets/{market.ticker}/orderbook")
        r.raise_for_status()
        fp = r.json()["orderbook_fp"]
        replayed = (
            [(Decimal(p), Decimal(c)) for p, c in fp.get("yes_dollars") or []],
            [(Decimal(p), Decimal(c)) for p, c in fp.get("no_dollars") or []],
        )
    assert replayed == book_at_t
