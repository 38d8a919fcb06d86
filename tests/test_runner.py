"""Many events: argument expansion, a real two-worker LocalCluster, killed workers, resume,
failures, the results table and Ctrl-C."""
from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cloudpickle
import numpy as np
import pandas as pd
import pytest

import qtrack
from qtrack.errors import QtrackError
from qtrack.runner import expand_events, is_many, run_events
from qtrack.runner.table import config_hash
from qtrack.runner.task import solve_event

from conftest import REPO, run_cli, write_event

pytest.importorskip("distributed")
# The killing solve functions below live in this module, which the workers cannot import.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

N_EVENTS = 20


def tiny_event(directory: Path, name: str, frames, seed: int, fraction: float = 0.4) -> Path:
    """A random share of the shipped event's particles (noise included as particle 0)."""
    hits, truth, particles = frames
    pids = truth.particle_id.unique()
    rng = np.random.default_rng(seed)
    keep = rng.choice(pids, size=int(fraction * len(pids)), replace=False)
    hit_ids = truth.hit_id[truth.particle_id.isin(keep)]
    return write_event(directory, name, hits[hits.hit_id.isin(hit_ids)], truth[truth.hit_id.isin(hit_ids)],
                       particles[particles.particle_id.isin(keep)])


@pytest.fixture(scope="module")
def events_dir(tmp_path_factory, raw_frames) -> Path:
    directory = tmp_path_factory.mktemp("events")
    for i in range(N_EVENTS):
        tiny_event(directory, f"tiny{i:02d}", raw_frames, seed=i)
    return directory


@pytest.fixture(scope="module")
def client():
    from qtrack.runner.cluster import connect

    with connect(workers=2) as c:
        yield c


@pytest.fixture(scope="module")
def cli_run(events_dir, tmp_path_factory):
    """``qtrack solve DIR --workers 2`` on the 20 events, once for the module."""
    out = tmp_path_factory.mktemp("cluster-out")
    proc = run_cli("solve", events_dir, "--workers", "2", "-o", out, "--progress", timeout=180)
    return proc, out


def _mtimes(paths) -> dict:
    return {p.name: p.stat().st_mtime_ns for p in paths}


# --- EVENT arguments --------------------------------------------------------------------------

def test_expand_directory_glob_and_files(events_dir, tmp_path):
    in_dir = expand_events([str(events_dir)])
    assert [p.name for p in in_dir] == [f"tiny{i:02d}" for i in range(N_EVENTS)]
    assert expand_events([str(events_dir / "tiny1*-hits.csv")]) == in_dir[10:]
    # A prefix, one of its files and a directory holding it name the same event once.
    same = expand_events([str(events_dir / "tiny03"), str(events_dir / "tiny03-truth.csv"),
                          str(events_dir / "tiny04-hits.csv")])
    assert [p.name for p in same] == ["tiny03", "tiny04"]
    # A glob over directories: each directory's events.
    sub = tmp_path / "a"
    sub.mkdir()
    shutil.copy(events_dir / "tiny00-hits.csv", sub / "other-hits.csv")
    assert [p.name for p in expand_events([str(tmp_path / "*")])] == ["other"]
    assert is_many(str(events_dir)) and is_many(str(events_dir / "tiny*-hits.csv"))
    assert not is_many(str(sub)) and not is_many(str(events_dir / "tiny00"))


@pytest.mark.parametrize("arg, message", [
    ("missing/event", "missing/event: no such event (expected a prefix with event-hits.csv[.gz], "
                      "a hits file, a directory of events or a glob)"),
    ("nowhere/*-hits.csv", "nowhere/*-hits.csv: no file or directory matches this pattern"),
])
def test_expand_errors(arg, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(QtrackError) as err:
        expand_events([arg])
    assert str(err.value) == message


def test_expand_empty_directory_and_name_clash(events_dir, tmp_path):
    with pytest.raises(QtrackError, match=r": no \*-hits.csv or \*-hits.csv.gz event files in this directory$"):
        expand_events([str(tmp_path)])
    (tmp_path / "b").mkdir()
    shutil.copy(events_dir / "tiny00-hits.csv", tmp_path / "b" / "tiny00-hits.csv")
    with pytest.raises(QtrackError, match="two events are named tiny00 .* would overwrite each other"):
        expand_events([str(events_dir), str(tmp_path / "b")])


def test_cli_missing_event_is_one_line(events_dir):
    proc = run_cli("solve", events_dir / "tiny00", "no/such/event", "-o", "unused")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "qtrack: error: no/such/event: no such event (expected a prefix with event-hits.csv[.gz], "
        "a hits file, a directory of events or a glob)"]


# --- a two-worker cluster from the command line ----------------------------------------------

def test_cluster_submissions_identical_to_single_solves(cli_run, events_dir, tmp_path):
    proc, out = cli_run
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"{N_EVENTS} events: {N_EVENTS} done, 0 skipped, 0 failed (see {out}/results.csv)"
    assert f"done={N_EVENTS}" in proc.stderr  # the progress bar
    for prefix in expand_events([str(events_dir)]):
        alone = qtrack.write_outputs(qtrack.solve(prefix, sampler="neal", config=qtrack.Config()), tmp_path)
        assert (out / f"{prefix.name}-submission.csv").read_bytes() == alone["submission"].read_bytes()


def test_results_table(cli_run, events_dir):
    proc, out = cli_run
    table = pd.read_parquet(out / "results.parquet")
    assert table.equals(pd.read_csv(out / "results.csv", keep_default_na=False).astype(table.dtypes)) \
        or len(pd.read_csv(out / "results.csv")) == len(table)
    assert list(table.event) == [f"tiny{i:02d}" for i in range(N_EVENTS)]
    assert set(table.status) == {"ok"} and set(table.attempts) == {1}
    assert set(table.config_hash) == {config_hash(qtrack.Config().to_dict())}
    assert set(table.qtrack_version) == {qtrack.__version__} and set(table.sampler) == {"neal"}
    for col in ["hits", "doublets", "triplets", "qubo_variables", "tracks", "time_doublets_s", "time_solve_s",
                "time_total_s", "peak_rss_mb", "cpu_s", "seed", "trackml_score", "focused_efficiency", "fake_rate"]:
        assert table[col].notna().all(), col
    # Both workers took part, and each row matches its event's summary.
    assert table.worker.nunique() == 2
    assert 50 < table.peak_rss_mb.min() and table.peak_rss_mb.max() < 4000
    import json

    for rec in table.itertuples():
        summary = json.loads((out / f"{rec.event}-summary.json").read_text())
        assert summary["config_hash"] == rec.config_hash
        assert (rec.hits, rec.tracks) == (summary["sizes"]["hits"], summary["sizes"]["tracks"])
        assert rec.trackml_score == summary["scores"]["trackml_score"]
    assert table.hits.nunique() > 10  # the events really differ


def test_rerun_solves_only_what_is_missing(cli_run, events_dir, tmp_path):
    _, first = cli_run
    out = tmp_path / "out"
    shutil.copytree(first, out)  # keeps mtimes
    missing = ["tiny02", "tiny11", "tiny17"]
    for name in missing:
        (out / f"{name}-submission.csv").unlink()
    (out / "tiny05-summary.json").unlink()
    missing.append("tiny05")
    kept = [p for p in out.glob("*.csv") if p.name.startswith("tiny") and p.name[:6] not in missing]
    before = _mtimes(kept)
    t0 = time.perf_counter()
    proc = run_cli("solve", events_dir, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"20 events: 4 done, 16 skipped, 0 failed (see {out}/results.csv)"
    assert _mtimes(kept) == before
    assert all((out / f"{name}-submission.csv").exists() for name in missing)
    table = pd.read_csv(out / "results.csv")
    assert len(table) == 20 and (table.status == "skipped").sum() == 16
    assert sorted(table.event[table.status == "ok"]) == sorted(missing)
    # Other settings or --force redo the events.
    two = [events_dir / "tiny00", events_dir / "tiny01"]
    proc = run_cli("solve", *two, "-o", out, "--seed", "2")
    assert proc.stdout.strip() == f"2 events: 2 done, 0 skipped, 0 failed (see {out}/results.csv)"
    proc = run_cli("solve", *two, "-o", out, "--seed", "2", "--force")
    assert proc.stdout.strip() == f"2 events: 2 done, 0 skipped, 0 failed (see {out}/results.csv)"
    assert time.perf_counter() - t0 < 60


def test_bad_event_is_recorded_and_the_run_goes_on(events_dir, tmp_path):
    directory = tmp_path / "events"
    directory.mkdir()
    for name in ["tiny00", "tiny01", "tiny02"]:
        for kind in ["hits", "truth", "particles"]:
            shutil.copy(events_dir / f"{name}-{kind}.csv", directory)
    pd.read_csv(events_dir / "tiny03-hits.csv").drop(columns="z").to_csv(directory / "broken-hits.csv", index=False)
    out = tmp_path / "out"
    proc = run_cli("solve", directory, "-o", out)
    assert proc.returncode == 1
    assert proc.stdout.strip() == f"4 events: 3 done, 0 skipped, 1 failed (see {out}/results.csv)"
    error = f"{directory}/broken-hits.csv: missing column(s) z; expected hit_id, x, y, z, volume_id, layer_id"
    assert error in proc.stderr and "Traceback" not in proc.stderr
    table = pd.read_csv(out / "results.csv", keep_default_na=False).set_index("event")
    assert table.loc["broken", "status"] == "failed" and table.loc["broken", "attempts"] == 1
    assert table.loc["broken", "error"] == error
    assert set(table.status.drop("broken")) == {"ok"}
    assert not (out / "broken-submission.csv").exists()


# --- failures on the cluster -------------------------------------------------------------------

def solve_or_die(prefix: str, sampler: str, config, victim: str, marker: str | None):
    """Kill the worker process on ``victim``: always, or once if ``marker`` is given."""
    if Path(prefix).name == victim and not (marker and os.path.exists(marker)):
        if marker:
            Path(marker).touch()
        os._exit(1)
    return solve_event(prefix, sampler, config)


def test_killed_worker_is_retried(client, events_dir, tmp_path):
    events = expand_events([str(events_dir / f"tiny0{i}") for i in range(6)])
    pd.read_csv(events_dir / "tiny07-hits.csv").iloc[:, :3].to_csv(tmp_path / "broken-hits.csv", index=False)
    die_once = functools.partial(solve_or_die, victim="tiny02", marker=str(tmp_path / "died"))
    report = run_events(events + [tmp_path / "broken"], tmp_path / "out", client=client, solve=die_once)
    rows = {r["event"]: r for r in report.rows}
    assert (rows["tiny02"]["status"], rows["tiny02"]["attempts"]) == ("ok", 2)
    assert all(rows[f"tiny0{i}"]["status"] == "ok" for i in range(6))
    # A bad input fails the same way every time: not retried, its message kept.
    assert (rows["broken"]["status"], rows["broken"]["attempts"]) == ("failed", 1)
    assert rows["broken"]["error"].endswith("broken-hits.csv: missing column(s) z, volume_id, layer_id; "
                                            "expected hit_id, x, y, z, volume_id, layer_id")
    assert report.tally() == f"7 events: 6 done, 0 skipped, 1 failed (see {tmp_path}/out/results.csv)"
    assert (tmp_path / "out" / "tiny02-submission.csv").read_bytes() == \
        qtrack.write_outputs(qtrack.solve(events[2]), tmp_path / "alone")["submission"].read_bytes()


def test_event_that_kills_every_worker_fails_and_rerun_finishes_it(client, events_dir, tmp_path):
    events = expand_events([str(events_dir / f"tiny1{i}") for i in range(6)])
    out = tmp_path / "out"
    always = functools.partial(solve_or_die, victim="tiny13", marker=None)
    report = run_events(events, out, client=client, solve=always)
    rows = {r["event"]: r for r in report.rows}
    assert (rows["tiny13"]["status"], rows["tiny13"]["attempts"]) == ("failed", 2)
    assert rows["tiny13"]["error"].startswith("KilledWorker: the worker process died")
    assert report.failed == 1 and report.count("ok") == 5
    assert pd.read_parquet(out / "results.parquet").set_index("event").loc["tiny13", "status"] == "failed"
    before = _mtimes(out.glob("tiny*"))
    again = run_events(events, out, client=client)
    assert again.tally() == f"6 events: 1 done, 5 skipped, 0 failed (see {out}/results.csv)"
    assert {k: v for k, v in _mtimes(out.glob("tiny*")).items() if k in before} == before
    assert (out / "tiny13-submission.csv").exists()


def test_memory_error_in_process_is_retried(events_dir, tmp_path):
    calls = []

    def flaky(prefix, sampler, config):
        calls.append(Path(prefix).name)
        if calls.count("tiny04") == 1 and Path(prefix).name == "tiny04":
            raise MemoryError()
        return solve_event(prefix, sampler, config)

    report = run_events([events_dir / "tiny04", events_dir / "tiny05"], tmp_path, solve=flaky)
    assert [(r["event"], r["status"], r["attempts"]) for r in report.rows] == [
        ("tiny04", "ok", 2), ("tiny05", "ok", 1)]


# --- Ctrl-C ------------------------------------------------------------------------------------

def test_ctrl_c_closes_the_cluster_and_keeps_outputs(events_dir, tmp_path):
    psutil = pytest.importorskip("psutil")
    out = tmp_path / "out"
    # Slow sweeps, so that the run is surely still going when interrupted.
    proc = subprocess.Popen([sys.executable, "-m", "qtrack", "solve", events_dir, "--workers", "2", "-o", out,
                             "--num-sweeps", "10000"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while not list(out.glob("*-summary.json")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    workers = psutil.Process(proc.pid).children(recursive=True)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert stderr.strip().splitlines() == [
        f"qtrack: interrupted; finished events are in {out} (results.csv), run the same command again "
        f"to do the rest"]
    # The worker processes (and multiprocessing's helper) are gone with the client.
    _, alive = psutil.wait_procs(workers, timeout=10)
    assert len(workers) >= 2 and not alive, [p.cmdline() for p in alive]
    table = pd.read_csv(out / "results.csv")
    assert 1 <= len(table) < N_EVENTS and set(table.status) == {"ok"}
    assert sorted(p.name for p in out.glob("*-submission.csv")) == [f"{e}-submission.csv" for e in table.event]
    assert not list(out.glob(".*tmp"))
