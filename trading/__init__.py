"""The live trading epoch: what runs inside the ``run_trading_epoch`` and ``run_actor_epoch`` activities.

No Temporal here (the activities in :mod:`activities.trading` and :mod:`activities.market_data` hand it an
:class:`trading.attempt.Attempt`), no workflow code, no wire parsing (:mod:`kalshi.convert` does that):

* :mod:`trading.epoch`: :class:`~trading.epoch.EpochCore`, one epoch attempt: fencing, the state rebuilt from
  the exchange, the decision step, order execution, the summary;
* :mod:`trading.pipeline`: the decision step, the one seam between the epoch and the decision pipeline
  (observation -> policy -> pre-trade checks -> order intent, with the position and cash bookkeeping);
* :mod:`trading.fencing`: at most one epoch per account (:class:`~trading.fencing.EpochFence`) and the lease
  that stops a zombie attempt writing orders (:class:`~trading.fencing.EpochLease`);
* :mod:`trading.positions`: positions for the pre-trade checks while fills stream over the WebSocket;
* :mod:`trading.drivers`: the two drivers that feed order books to the core: REST polling and the WebSocket
  actor loop;
* :mod:`trading.attempt`: what the epoch needs from the activity attempt running it.
"""
