"""Repeatable timing and memory measurement, shared by ``benchmarks/`` and ``experiments/``.

Every results file written by the experiments carries :func:`provenance` (what machine, which
versions, which command, how loaded the machine was), so a number can always be traced back to how
it was measured.

* :func:`measure` times a Python callable in this process: ``warmup`` untimed calls (numba cache
  loading, first-touch allocations), then ``repeats`` timed ones; wall time by
  ``time.perf_counter``, CPU time (all threads of this process) by ``time.process_time``.
* :func:`run_child` runs a command in a child process and returns its own resource usage, read with
  ``os.wait4`` for that one child: peak resident memory (``ru_maxrss``), user and system CPU time.
* :func:`pipeline_child` runs the whole pipeline on one event in a fresh child process
  (``python benchmarks/harness.py child ...``): the child first solves a tiny event (so numba's
  compiled-code cache is loaded and not counted), then loads, builds and solves the event, and
  prints the per-stage wall times of :class:`qtrack.pipeline.Result`, the sizes and the scores as
  JSON. The parent adds the child's peak memory. Peak memory therefore includes the interpreter,
  numpy/numba/dimod and the warm-up (:func:`pipeline_child` with ``event=None`` measures that
  baseline alone).
"""
from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

import click

from qtrack.errors import InputError, QtrackError
from qtrack.io import write_json

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Smallest event there is, used to warm numba up in child processes.
WARMUP_EVENT = REPO_ROOT / "data" / "event000001000"
#: Stages of :attr:`Result.timings` that make the QUBO ("build") and the rest.
BUILD_STAGES = ("doublets", "triplets", "couplers", "qubo")
STAGES = ("load",) + BUILD_STAGES + ("solve", "tracks", "score")
_PACKAGES = ("numpy", "numba", "scipy", "pandas", "dimod", "dwave-samplers", "click", "matplotlib")


# --------------------------------------------------------------------------------------------------
# What was measured where


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def _version(pkg: str) -> str | None:
    try:
        return importlib.metadata.version(pkg)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), "describe", "--always", "--dirty"],
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def machine() -> dict:
    """Description of this machine and software: CPU, cores, RAM, Python and library versions."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    from qtrack import __version__

    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "ram_gib": _ram_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "qtrack": __version__,
        "git": _git_commit(),
        "versions": {p: _version(p) for p in _PACKAGES},
    }


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def provenance(method: str, argv: Sequence[str] | None = None) -> dict:
    """The ``measured`` block of a results file: how, where, when and by which command."""
    argv = sys.argv if argv is None else argv
    return {
        "method": method,
        "command": " ".join(shlex.quote(a) for a in argv),
        "started": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "load_average_1_5_15min": load_average(),
        "machine": machine(),
    }


def short_machine(m: dict | None = None) -> str:
    """One line for a figure footer: CPU, cores, RAM, Python, numba."""
    m = m or machine()
    v = m.get("versions", {})
    return (f"{m['cpu']}, {m['cores_usable']} cores, {m['ram_gib']} GiB, Python {m['python']}, "
            f"numba {v.get('numba')}, dwave-samplers {v.get('dwave-samplers')}")


# --------------------------------------------------------------------------------------------------
# Timing in this process


def measure(fn: Callable[[], object], repeats: int = 3, warmup: int = 1, keep: bool = False) -> dict:
    """Time ``fn()``: ``warmup`` untimed calls, then ``repeats`` timed calls.

    Returns ``{"median", "min", "max", "runs"}`` in wall seconds, plus ``cpu_median`` and
    ``cpu_runs`` (CPU seconds of this process, all threads) and, with ``keep``, ``results`` (what
    every timed call returned).
    """
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    for _ in range(max(warmup, 0)):
        fn()
    runs, cpu, results = [], [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        runs.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        if keep:
            results.append(out)
    res = {"median": statistics.median(runs), "min": min(runs), "max": max(runs), "runs": runs,
           "cpu_median": statistics.median(cpu), "cpu_runs": cpu}
    if keep:
        res["results"] = results
    return res


# --------------------------------------------------------------------------------------------------
# Child processes: peak memory


def run_child(argv: Sequence[str], timeout: float | None = None, env: dict | None = None,
              cwd: str | Path | None = None) -> dict:
    """Run ``argv`` and return its exit code, output, wall time and the child's own rusage.

    ``maxrss_mb`` is the child's peak resident set size (Linux reports ``ru_maxrss`` in KiB),
    read with ``os.wait4`` for this child only (``RUSAGE_CHILDREN`` would give the maximum over
    every child this process ever waited for).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(argv), stdout=out, stderr=err, env=env, cwd=cwd)
        deadline = None if timeout is None else t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if deadline is not None and time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    scale = 1 if sys.platform == "darwin" else 1024  # macOS reports bytes, Linux KiB
    return {
        "returncode": proc.returncode,
        "timed_out": deadline is not None and wall > timeout,
        "wall_s": wall,
        "user_s": usage.ru_utime,
        "sys_s": usage.ru_stime,
        "maxrss_mb": usage.ru_maxrss * scale / 2**20,
        "stdout": stdout,
        "stderr": stderr,
    }


def pipeline_child(event: str | Path | None, seed: int = 1, model: str = "mp",
                   config: str | Path | None = None, warmup: bool = True,
                   timeout: float | None = None, python: str | None = None) -> dict:
    """Solve ``event`` in a fresh child process; its stage times, sizes, scores and peak memory.

    ``event=None`` measures the baseline: imports and the warm-up only. ``model`` is ``"mp"`` (the
    default config, the reference's QallseMp) or ``"d0"`` (``use_d0_weights``).
    """
    argv = [python or sys.executable, str(Path(__file__).resolve()), "child", "--seed", str(seed),
            "--model", model]
    if event is not None:
        argv += ["--event", str(event)]
    if config is not None:
        argv += ["--config", str(config)]
    if not warmup:
        argv.append("--no-warmup")
    res = run_child(argv, timeout=timeout)
    if res["returncode"] != 0:
        last = (res["stderr"].strip().splitlines() or ["(no output)"])[-1]
        raise QtrackError(f"benchmark child failed on {event} (exit {res['returncode']}): {last}")
    data = json.loads(res["stdout"].strip().splitlines()[-1])
    data.update({k: res[k] for k in ("wall_s", "user_s", "sys_s", "maxrss_mb")})
    return data


def model_config(model: str = "mp", config: str | Path | None = None):
    """The config of a named model: ``mp`` (default) or ``d0`` (QallseD0 impact weights)."""
    from qtrack.config import Config

    cfg = Config.from_toml(config) if config else Config()
    if model == "d0":
        cfg = cfg.replace(model={"use_d0_weights": True})
    elif model != "mp":
        raise InputError(f"unknown model {model!r}; expected mp or d0")
    return cfg


def _child_main(args: list[str]) -> int:
    """``python benchmarks/harness.py child``: one pipeline run, JSON on the last stdout line."""
    import argparse
    import resource

    p = argparse.ArgumentParser(prog="python benchmarks/harness.py child")
    p.add_argument("--event")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--model", default="mp", choices=("mp", "d0"))
    p.add_argument("--config")
    p.add_argument("--no-warmup", action="store_true")
    a = p.parse_args(args)
    from qtrack import pipeline

    cfg = model_config(a.model, a.config).replace(solve={"seed": a.seed})
    t0 = time.perf_counter()
    if not a.no_warmup and (WARMUP_EVENT.parent / f"{WARMUP_EVENT.name}-hits.csv").exists():
        pipeline.solve(WARMUP_EVENT, config=cfg.replace(solve={"num_reads": 2, "num_sweeps": 50}))
    out = {"warmup_s": time.perf_counter() - t0,
           "maxrss_before_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if a.event:
        t1 = time.perf_counter()
        res = pipeline.solve(a.event, config=cfg)
        out["total_s"] = time.perf_counter() - t1
        s = res.summary()
        out.update(event=str(a.event), sizes=s["sizes"], timings_s=res.timings, scores=res.scores,
                   energy=s["energy"], seed=a.seed, model=a.model)
    print(json.dumps(out, default=float))
    return 0


# --------------------------------------------------------------------------------------------------
# The command


def summarize_runs(runs: list[dict]) -> dict:
    """Median, min and max of every stage time over child runs, and the largest peak memory."""
    stages = sorted({k for r in runs for k in r["timings_s"]}, key=lambda s: (
        STAGES.index(s) if s in STAGES else len(STAGES), s))
    out = {}
    for s in stages + ["build", "total"]:
        if s == "build":
            vals = [sum(r["timings_s"].get(k, 0.0) for k in BUILD_STAGES) for r in runs]
        elif s == "total":
            vals = [r["total_s"] for r in runs]
        else:
            vals = [r["timings_s"][s] for r in runs if s in r["timings_s"]]
        out[s] = {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "runs": vals}
    return {"stages_s": out, "maxrss_mb": max(r["maxrss_mb"] for r in runs)}


@click.command("benchmark")
@click.argument("event", required=False)
@click.option("--repeats", type=click.IntRange(min=1), default=3, show_default=True,
              help="Timed runs, each in a fresh process.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the first run (+1 per run).")
@click.option("--model", type=click.Choice(["mp", "d0"]), default="mp", show_default=True,
              help="mp: the reference's QallseMp weights; d0: add its QallseD0 impact weights.")
@click.option("--config", "config_path", type=click.Path(), help="TOML file overriding settings.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also write the results here.")
def benchmark_command(event, repeats, seed, model, config_path, json_path):
    """Time every pipeline stage on EVENT and measure peak memory (default: the shipped event).

    Each run is a fresh process that first solves a tiny event (numba cache loading is not
    counted), then loads, builds and solves EVENT. Prints the median (min-max) of each stage and
    the largest peak resident memory, with a description of the machine.
    """
    try:
        ev = Path(event) if event else WARMUP_EVENT
        from qtrack.event import find_file, resolve_prefix

        prefix = resolve_prefix(ev)
        if find_file(prefix, "hits") is None:
            raise InputError(f"{prefix}-hits.csv: hits file not found (event argument {ev})")
        base = pipeline_child(None, seed=seed, model=model, config=config_path)
        runs = [pipeline_child(prefix, seed=seed + k, model=model, config=config_path)
                for k in range(repeats)]
    except QtrackError as exc:
        click.echo(f"qtrack: error: {exc}", err=True)
        sys.exit(2)
    summary = summarize_runs(runs)
    result = {"event": str(prefix), "model": model, "repeats": repeats, "sizes": runs[0]["sizes"],
              "scores": [r["scores"] for r in runs], **summary,
              "baseline_maxrss_mb": base["maxrss_mb"],
              "measured": provenance("pipeline_child: one fresh process per run, warm numba cache; "
                                     "perf_counter per stage; ru_maxrss via wait4")}
    sizes = runs[0]["sizes"]
    click.echo(f"{prefix.name}: {sizes['hits']} hits, {sizes['doublets']} doublets, "
               f"{sizes['triplets']} triplets, {sizes['qubo_variables']} QUBO variables; "
               f"{repeats} run(s), model {model}")
    for stage, v in summary["stages_s"].items():
        click.echo(f"  {stage:<9} {v['median']:8.3f} s  ({v['min']:.3f} - {v['max']:.3f})")
    click.echo(f"  peak RSS  {summary['maxrss_mb']:8.0f} MB  (imports + warm-up alone: "
               f"{base['maxrss_mb']:.0f} MB)")
    if runs[0]["scores"]:
        click.echo(f"  TrackML   {statistics.median(r['scores']['trackml_score'] for r in runs):8.4f}")
    click.echo(f"  machine   {short_machine(result['measured']['machine'])}; load average "
               f"{result['measured']['load_average_1_5_15min']}")
    if json_path:
        write_json(json_path, result)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        sys.exit(_child_main(sys.argv[2:]))
    benchmark_command()
