"""What the trader saw and did, kept: the write-behind recorder, database rows, tape import/export, metrics.

* :mod:`recording.recorder`: the write-behind recorder (hot path appends to bounded queues; a writer
  thread commits batches to SQLite or PostgreSQL).
* :mod:`recording.database`: engines, the idempotent bulk inserter and the row builders of the tables in
  :mod:`models.db`.
* :mod:`recording.tape`: recorded sessions <-> tape directories in the ``kalshi-gold15m`` layout.
* :mod:`recording.metrics`: the activity-side Prometheus metrics (live counters rather than rows).

Nothing here is a Temporal activity and nothing here imports Temporal: activities and the CLI call it.
"""
