"""The run's outputs: per-event files written by the client, and one results table.

Each event gets the same ``<event>-submission.csv`` and ``<event>-summary.json`` as a single
``qtrack solve``; the summary also holds ``config_hash``, ``peak_rss_mb``, ``cpu_s`` and
``worker``. The table (``results.parquet`` and ``results.csv``) has one row per event of the run,
skipped events included (their row comes from the summary already on disk).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from ..io import atomic_open, write_csv


TABLE = "results"
#: Leading columns, in order; sizes, stage times (``time_<stage>_s``) and scores follow.
COLUMNS = ["event", "status", "attempts", "error", "sampler", "seed", "config_hash",
           "qtrack_version", "peak_rss_mb", "cpu_s", "worker"]


def config_hash(config: dict) -> str:
    """Short hash of every setting (a config's ``to_dict()`` or a summary's ``config``)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def output_paths(outdir: Path, name: str) -> dict[str, Path]:
    return {"submission": outdir / f"{name}-submission.csv", "summary": outdir / f"{name}-summary.json"}


def write_event(outdir: Path, name: str, submission: pd.DataFrame, summary: dict) -> None:
    """Write one event's submission and summary as ``qtrack.write_outputs`` does, atomically."""
    paths = output_paths(outdir, name)
    with atomic_open(paths["submission"], newline="") as f:
        submission.to_csv(f, index=False)
    with atomic_open(paths["summary"]) as f:
        json.dump(summary, f, indent=2)


def finished_summary(outdir: Path, name: str, chash: str, version: str, sampler: str) -> dict | None:
    """The event's summary if its outputs are complete and were made with the same config hash,
    qtrack version and sampler; otherwise None (the event is to be solved)."""
    paths = output_paths(outdir, name)
    if not paths["submission"].is_file():
        return None
    try:
        summary = json.loads(paths["summary"].read_text())
        made_with = config_hash(summary["config"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if (made_with, summary.get("qtrack_version"), summary.get("sampler")) != (chash, version, sampler):
        return None
    return summary


def row(summary: dict | None, name: str, status: str, attempts: int, error: str = "", **known) -> dict:
    """One table row: run status, then sizes, stage times and scores from the summary."""
    out = {"event": name, "status": status, "attempts": attempts, "error": error} | known
    if summary is None:
        return out
    out |= {"sampler": summary.get("sampler"), "seed": summary.get("seed"),
            "config_hash": config_hash(summary["config"]),
            "qtrack_version": summary.get("qtrack_version"),
            "peak_rss_mb": summary.get("peak_rss_mb"), "cpu_s": summary.get("cpu_s"),
            "worker": summary.get("worker")}
    out |= summary.get("sizes", {})
    out |= {f"time_{k}_s": v for k, v in summary.get("timings_s", {}).items()}
    # ``tracks`` is both a size and a score, with the same value.
    out |= {k: v for k, v in (summary.get("scores") or {}).items() if k not in out}
    return out


def write_table(outdir: Path, rows: list[dict]) -> dict[str, Path]:
    """Write ``results.parquet`` and ``results.csv``: one row per event, sorted by event."""
    df = pd.DataFrame(rows)
    for c in COLUMNS:
        if c not in df.columns:
            df[c] = None
    df = df[COLUMNS + [c for c in df.columns if c not in COLUMNS]]
    df = df.sort_values("event", kind="stable").reset_index(drop=True)
    paths = {"csv": outdir / f"{TABLE}.csv", "parquet": outdir / f"{TABLE}.parquet"}
    with atomic_open(paths["parquet"], "wb") as f:
        df.to_parquet(f, index=False)
    write_csv(paths["csv"], df)
    return paths
