"""Many events: expand EVENT arguments, solve them in-process or on a Dask cluster, resume, and
collect one results table (``results.parquet`` and ``results.csv``).

Only the public API of qtrack is used here, so the runner does not depend on how the pipeline is
organised inside. Dask is imported only when a cluster is asked for (``pip install qtrack[dask]``).
"""
from .events import expand_events, is_many
from .run import RunReport, run_events

__all__ = ["expand_events", "is_many", "run_events", "RunReport"]
