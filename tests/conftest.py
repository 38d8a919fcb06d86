"""Shared fixtures: the shipped event, helpers to write small events and to run the CLI."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"
EVENT = DATA / "event000001000"

# The reference's ordered barrel layers ("volayers"), written out independently of qtrack.model.layers.
VOLAYERS = [(8, 2), (8, 4), (8, 6), (8, 8), (13, 2), (13, 4), (13, 6), (13, 8), (17, 2), (17, 4)]


@pytest.fixture(scope="session")
def event_prefix() -> Path:
    assert (DATA / "event000001000-hits.csv").exists()
    return EVENT


@pytest.fixture(scope="session")
def raw_frames():
    """The shipped event's CSV files as read by pandas (no qtrack code involved)."""
    hits = pd.read_csv(f"{EVENT}-hits.csv")
    truth = pd.read_csv(f"{EVENT}-truth.csv")
    particles = pd.read_csv(f"{EVENT}-particles.csv")
    return hits, truth, particles


@pytest.fixture(scope="session")
def event():
    from qtrack.event import load_event

    return load_event(EVENT)


@pytest.fixture(scope="session")
def built(event):
    from qtrack import pipeline

    return pipeline.build(event)


def write_event(directory: Path, name: str, hits: pd.DataFrame, truth: pd.DataFrame | None = None,
                particles: pd.DataFrame | None = None, gz: bool = False) -> Path:
    """Write an event's CSV files; returns the prefix."""
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".csv.gz" if gz else ".csv"
    prefix = directory / name
    hits.to_csv(f"{prefix}-hits{suffix}", index=False)
    if truth is not None:
        truth.to_csv(f"{prefix}-truth{suffix}", index=False)
    if particles is not None:
        particles.to_csv(f"{prefix}-particles{suffix}", index=False)
    return prefix


def run_cli(*args, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``python -m qtrack ARGS`` in a fresh process."""
    env = dict(os.environ)
    env.pop("PYTHONHASHSEED", None)
    return subprocess.run([sys.executable, "-m", "qtrack", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd or REPO, env=env, timeout=timeout)


def run_cli_patched(setup: str, *args, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``qtrack ARGS`` in a fresh process after the Python lines ``setup`` (which patch
    qtrack to make it fail in a given way)."""
    code = (f"{setup}\nimport sys; sys.argv = ['qtrack', *{[str(a) for a in args]!r}]\n"
            "from qtrack.cli import run; run()\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


def random_state(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2, size=n).astype(np.int8)


def run_cli_many(arg_lists, workers: int = 4) -> list[subprocess.CompletedProcess]:
    """Run several CLI commands at once (each in its own process); results in the given order."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda args: run_cli(*args), arg_lists))
