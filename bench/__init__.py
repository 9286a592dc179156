"""Benchmarks (``python -m bench``, ``python -m bench.bench_<name>``): each prints its own figures.

Importing the package installs :mod:`workers.exit_guard`, so a benchmark that used a Temporal client (directly or
through ``WorkflowEnvironment.start_local``) exits cleanly after printing its figures.
"""

from workers import exit_guard

exit_guard.install()
