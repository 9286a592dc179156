"""The trader's own types: domain objects, money and fees, and the database tables.

* :mod:`models.trader`, :mod:`models.market_data`, :mod:`models.common`: what workflows and activities
  exchange (pydantic; they cross Temporal boundaries and appear in histories).
* :mod:`models.money`: exact money and counts (Decimal) and Kalshi's fee with Kalshi's rounding, shared by the
  trader, the simulator and the training environment.
* :mod:`models.db`: the recorder's tables (sqlmodel).

Kalshi's wire types are not here: they live with the client library in :mod:`kalshi.models`. Nothing in this
package imports another project package.
"""
