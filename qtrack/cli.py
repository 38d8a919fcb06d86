"""Command line: a thin layer over :mod:`qtrack.pipeline` and the stages.

Three ways out, and only three:

* the user's problem (bad input file, bad setting or option, missing credentials, an output
  directory that cannot be written): one line on stderr, exit code 2, no output file;
* an interruption (Ctrl-C, SIGINT): one line, exit code 130, at once, no half-written file;
* a bug in qtrack: the traceback, a line saying so, exit code 1.

Everything heavy (numba, dimod, pandas, matplotlib, the D-Wave stack) is imported inside the
commands, so ``qtrack --help`` answers at once.
"""
from __future__ import annotations

import functools
import logging
import os
import sys
import time
from pathlib import Path

import click

from .errors import QtrackError

log = logging.getLogger("qtrack")

def _shipped_event() -> Path:
    """The small event of the repository's ``data/``, installed as package data ``qtrack.data``."""
    from importlib.resources import files

    return Path(str(files("qtrack.data"))) / "event000001000"

BUG_REPORT = ("qtrack: internal error: this is a bug in qtrack, please report it with the "
              "traceback above")


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(message)s", datefmt="%H:%M:%S",
                        stream=sys.stderr)


def _interrupted():
    """Leave at once: worker threads still inside a sampler call are not waited for, and the
    temporary files of writes in progress are removed (nothing half-written is left). The
    console script's own SIGINT handler (:mod:`qtrack.__main__`) does the same; this one serves
    a KeyboardInterrupt raised any other way."""
    from .io import discard_partial_files

    discard_partial_files()
    click.echo("qtrack: interrupted", err=True)
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(130)


def friendly(func):
    """The three ways out (see the module docstring)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except QtrackError as exc:
            click.echo(f"qtrack: error: {exc}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            _interrupted()
        except (click.exceptions.Exit, click.exceptions.ClickException, click.Abort):
            raise
        except Exception as exc:
            if _caused_by_interrupt(exc):  # a library turned the KeyboardInterrupt into another
                _interrupted()
            import traceback

            traceback.print_exc()
            click.echo(BUG_REPORT, err=True)
            sys.exit(1)

    return wrapper


def _caused_by_interrupt(exc: BaseException) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def check_writable(directory: str | Path) -> Path:
    """Check, before any work, that ``directory`` could be created and written to.

    Nothing is created here (a run that fails later leaves no empty directory): the directory
    must be writable if it exists, else its nearest existing parent must be a writable directory.
    """
    d = Path(directory)
    probe = d
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise QtrackError(f"{d}: output directory cannot be made: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise QtrackError(f"{d}: output directory cannot be written: no write permission "
                          f"on {probe}")
    return d


def _event_arg(event: str | None) -> Path:
    if event is not None:
        return Path(event)
    shipped = _shipped_event()
    if not (shipped.parent / f"{shipped.name}-hits.csv").exists():
        raise QtrackError(f"no EVENT given and the example event {shipped} is not installed")
    return shipped


def _config(path: str | None, seed: int | None = None, **solve):
    from .config import Config

    cfg = Config.from_toml(path) if path else Config()
    changes = {k: v for k, v in solve.items() if v is not None}
    if seed is not None:
        changes["seed"] = seed
    return cfg.replace(solve=changes) if changes else cfg


common = [
    click.option("-v", "--verbose", count=True, help="More log output."),
    click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors."),
]


def with_common(func):
    for opt in reversed(common):
        func = opt(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qtrack")
def main():
    """qtrack: charged-particle tracks from TrackML hits, via a QUBO solved by annealing."""


SCORE_ROWS = [
    ("trackml_score", "TrackML score", "{:.4f}"),
    ("doublet_precision", "doublet precision", "{:.4f}"),
    ("doublet_recall", "doublet recall", "{:.4f}"),
    ("efficiency", "efficiency (weight > 0)", "{:.4f}"),
    ("focused_efficiency", "efficiency (focused)", "{:.4f}"),
    ("endcap_efficiency", "  focused, endcap", "{:.4f}"),
    ("fake_rate", "fake rate", "{:.4f}"),
    ("duplicate_rate", "duplicate rate", "{:.4f}"),
    ("tracks", "tracks", "{}"),
    ("oracle_score", "oracle TrackML", "{:.4f}"),
]


def _score_table(scores: dict) -> str:
    # An efficiency over no particles (no endcap particle in a barrel event) is not shown.
    empty = {"endcap_efficiency"} if scores.get("endcap_particles") == 0 else set()
    lines = [f"  {label:<24} {fmt.format(scores[key])}" for key, label, fmt in SCORE_ROWS
             if key in scores and key not in empty]
    return "\n".join(lines)


SEED = click.IntRange(0, 2**63 - 1)


@main.command()
@click.argument("events", nargs=-1)
@click.option("--sampler", default="neal", show_default=True,
              help="Sampler name (see `qtrack samplers`).")
@click.option("--seed", type=SEED, help="Random seed (default from config: 1).")
@click.option("-o", "--outdir", default="out", show_default=True, type=click.Path(file_okay=False),
              help="Directory for <event>-submission.csv and <event>-summary.json.")
@click.option("--config", "config_path", type=click.Path(), help="TOML file overriding settings.")
@click.option("--num-reads", type=click.IntRange(min=1), help="Reads per component.")
@click.option("--num-sweeps", type=click.IntRange(min=1), help="Sweeps per read (neal).")
@click.option("--threads", type=click.IntRange(1, 256), help="Threads for local samplers.")
@click.option("--write-qubo", is_flag=True, help="Also write <event>-qubo.npz.")
@click.option("--dwave-profile", help="Profile of the D-Wave configuration file (dwave.conf).")
@click.option("--subproblem-size", type=click.IntRange(min=2),
              help="D-Wave samplers: largest sub-problem sent to the QPU ([qpu] subproblem_size).")
@click.option("--dry-run", is_flag=True,
              help="D-Wave samplers: reduce, decompose and embed offline; write "
                   "<event>-dryrun.json (QPU calls, qubits, chains, QPU time); submit nothing.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
@click.option("--workers", type=click.IntRange(min=1), help="Solve on a local Dask cluster of N processes.")
@click.option("--scheduler", help="Solve on the Dask cluster at this address (tcp://host:8786).")
@click.option("--force", is_flag=True, help="Many events: redo events already solved with these settings.")
@with_common
@friendly
def solve(events, sampler, seed, outdir, config_path, num_reads, num_sweeps, threads, write_qubo,
          dwave_profile, subproblem_size, dry_run, progress, workers, scheduler, force, verbose, quiet):
    """Find the tracks of EVENTS (path prefix, hits file or directory; default: the shipped event).

    Writes OUTDIR/<event>-submission.csv (hit_id,track_id; 0 = no track) and
    OUTDIR/<event>-summary.json (sizes, time per stage, scores when truth exists).

    Several events, a directory of events or a glob, or --workers/--scheduler: solves them all
    (in-process, or on Dask), skips those already solved with the same settings, and writes
    OUTDIR/results.parquet and results.csv, one row per event.
    """
    t0 = time.perf_counter()
    _setup_logging(verbose, quiet)
    from .samplers import capabilities_of, get_sampler, spec_of

    cfg = _config(config_path, seed, num_reads=num_reads, num_sweeps=num_sweeps, threads=threads)
    if subproblem_size is not None:
        cfg = cfg.replace(qpu={"subproblem_size": subproblem_size})
    spec_of(sampler)
    out = check_writable(outdir)
    sampler_obj = get_sampler(sampler, cfg, profile=dwave_profile, dry_run=dry_run)
    if dry_run and not hasattr(sampler_obj, "offline_report"):
        raise QtrackError(f"--dry-run is for the D-Wave samplers, not {sampler!r}")
    caps = capabilities_of(sampler_obj)
    if caps.remote:
        from .samplers.dwave import check_credentials

        check_credentials(f"sampler {sampler!r}", profile=dwave_profile)

    from .runner.cli import is_many, solve_many

    if workers or scheduler or len(events) > 1 or (events and is_many(events[0])):
        if write_qubo or dry_run or caps.remote:
            raise QtrackError("--write-qubo, --dry-run and remote samplers take one event at a time")
        # The runner stops its cluster and writes its table on Ctrl-C: a KeyboardInterrupt, not
        # the single-event path's immediate exit.
        import signal

        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.exit(solve_many(events, cfg, sampler, outdir, workers, scheduler, force, progress))
    event_path = _event_arg(events[0] if events else None)

    from . import pipeline

    built = pipeline.build(event_path, cfg)
    if write_qubo or dry_run or caps.remote:  # a failed remote run still leaves the QUBO
        path = pipeline.write_qubo(built, out)
        log.info("wrote %s", path)
    if dry_run:
        import json

        from .io import jsonable, write_json

        show = sys.stderr.isatty() if progress is None else progress
        report = {"sampler": sampler, **sampler_obj.offline_report(built.bqm, progress=show)}
        path = write_json(out / f"{built.event.name}-dryrun.json", report)
        click.echo(json.dumps(jsonable(report), indent=2))
        log.info("wrote %s (nothing was submitted)", path)
        return
    show = sys.stderr.isatty() if progress is None else progress
    result = pipeline.solve_built(built, sampler_obj, sampler, progress=show)
    paths = pipeline.write_outputs(result, out, total_time=time.perf_counter() - t0)
    click.echo(f"{result.event.name}: {len(result.tracks)} tracks from {result.event.n_hits} hits "
               f"in {time.perf_counter() - t0:.1f} s  ->  {paths['submission']}")
    if result.scores:
        click.echo(_score_table(result.scores))
    else:
        click.echo("  (no truth: not scored)")


@main.command()
@click.argument("event")
@click.option("-o", "--outdir", default="out", show_default=True, type=click.Path(file_okay=False))
@click.option("--config", "config_path", type=click.Path(), help="TOML file overriding settings.")
@with_common
@friendly
def build(event, outdir, config_path, verbose, quiet):
    """Build the QUBO of EVENT and write OUTDIR/<event>-qubo.npz.

    The file holds numpy arrays linear, irow, icol, quad (the QUBO) and hit_ids (the TrackML hit
    ids of each triplet variable); see qtrack.model.qubo.load_qubo.
    """
    _setup_logging(verbose, quiet)
    cfg = _config(config_path)
    out = check_writable(outdir)
    from . import pipeline

    built = pipeline.build(Path(event), cfg)
    path = pipeline.write_qubo(built, out)
    click.echo(f"{path}: {built.qubo.num_variables} variables, {built.qubo.num_couplers} couplers")


@main.command()
@click.argument("event")
@click.option("--density", type=click.FloatRange(0, 1, min_open=True), required=True,
              help="Fraction of particles (and of noise hits) to keep.")
@click.option("--seed", type=SEED, default=None, help="Random seed (default: drawn and recorded).")
@click.option("-o", "--outdir", required=True, type=click.Path(file_okay=False))
@click.option("--prefix", default=None, help="File prefix of the output (default: the event's).")
@with_common
@friendly
def dataset(event, density, seed, outdir, prefix, verbose, quiet):
    """Make a reduced barrel dataset from EVENT, the reference's convention (see qtrack.dataset)."""
    _setup_logging(verbose, quiet)
    out = check_writable(outdir)
    from .dataset import make_dataset

    info = make_dataset(Path(event), density=density, seed=seed, outdir=out, prefix=prefix)
    click.echo(f"wrote {info.prefix}-{{hits,truth,particles}}.csv: {info.n_hits} hits, "
               f"{info.n_particles} particles, {info.n_noise} noise hits (seed {info.seed})")


@main.command()
@click.argument("submission", type=click.Path())
@click.argument("event")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@with_common
@friendly
def score(submission, event, as_json, verbose, quiet):
    """Score a TrackML SUBMISSION (hit_id,track_id CSV) against EVENT's truth."""
    _setup_logging(verbose, quiet)
    from .event import load_event, read_table
    from .scoring import score_submission

    ev = load_event(event)
    if not ev.has_truth:
        raise QtrackError(f"{ev.prefix}-truth.csv: no truth file, cannot score")
    sub = read_table(Path(submission), ("hit_id", "track_id"), ("hit_id", "track_id"))
    scores = score_submission(ev.hits, ev.truth, sub, source=str(submission))
    if as_json:
        import json

        click.echo(json.dumps(scores, indent=2))
    else:
        click.echo(f"{Path(submission).name} on {ev.name}:")
        click.echo(_score_table(scores))


@main.command()
@friendly
def samplers():
    """List the samplers, whether each is installed and configured."""
    from .samplers import SAMPLERS

    click.echo(f"{'name':<11} {'installed':<10} {'configured':<11} description")
    for spec in SAMPLERS.values():
        installed = spec.installed
        configured = "yes"
        if spec.capabilities.remote:
            configured = "-"
            if installed:
                from .samplers.dwave import has_credentials

                configured = "yes" if has_credentials() else "no token"
        click.echo(f"{spec.name:<11} {'yes' if installed else 'no':<10} {configured:<11} "
                   f"{spec.description}")


@main.command("plot")
@click.argument("summary", required=False, type=click.Path(dir_okay=False))
@click.option("--submission", type=click.Path(dir_okay=False),
              help="A hit_id,track_id CSV (instead of SUMMARY); needs --event.")
@click.option("--event", "event_path", help="Event prefix, hits file or directory (with --submission).")
@click.option("-o", "--outdir", type=click.Path(file_okay=False),
              help="Directory for the PNGs (default: next to SUMMARY or the submission).")
@click.option("--what", type=click.Choice(["all", "display", "efficiency"]), default="all",
              show_default=True, help="Which figures; efficiency needs truth.")
@click.option("--dpi", type=click.IntRange(50, 600), default=120, show_default=True)
@friendly
def plot(summary, submission, event_path, outdir, what, dpi):
    """Draw a solved event: event display and efficiency / fake-rate curves.

    SUMMARY is OUTDIR/<event>-summary.json written by `qtrack solve` (its event and submission are
    found from it); or give --submission FILE --event PREFIX. Writes <event>-display.png and
    <event>-efficiency.png.
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise QtrackError("qtrack plot needs matplotlib: pip install 'qtrack[plot]'") from None
    if summary is not None and (submission is not None or event_path is not None):
        raise QtrackError("give either SUMMARY or --submission/--event, not both")
    if summary is None and (submission is None or event_path is None):
        raise QtrackError("give a SUMMARY json, or both --submission FILE and --event PREFIX")
    from .plot import make_plots
    from .plot.tables import load_inputs

    event, track_id, default_dir = load_inputs(summary, submission, event_path)
    out = check_writable(outdir if outdir else default_dir)
    for p in make_plots(event, track_id, out, what, dpi):
        click.echo(str(p))


def _register_commands() -> None:
    # Defined in their own stage's folder; registered last, as they use friendly() from here.
    from .simulate.cli import simulate_command

    main.add_command(simulate_command)


_register_commands()


def run() -> None:
    """The ``qtrack`` console script: :func:`main`, with Ctrl-C anywhere giving exit 130."""
    try:
        code = main(standalone_mode=False)
    except KeyboardInterrupt:
        _interrupted()
    except click.Abort:
        _interrupted()
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        # Usage errors too get one line (click's own shows usage, a hint and the error).
        click.echo(f"qtrack: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)

