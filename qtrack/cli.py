"""Command line: a thin layer over :mod:`qtrack.pipeline`.

Problems the user can fix (bad input, missing credentials) end with one line on stderr and exit
code 2; no output file is left half-written.
"""
from __future__ import annotations

import functools
import json
import logging
import sys
import time
from pathlib import Path

import click

from .config import Config
from .errors import QtrackError

log = logging.getLogger("qtrack")

#: The small event shipped with the repository, used when no EVENT is given.
DEFAULT_EVENT = Path(__file__).resolve().parent.parent / "data" / "event000001000"


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(message)s", datefmt="%H:%M:%S",
                        stream=sys.stderr)


def _fail(message: str, code: int = 2):
    click.echo(f"qtrack: error: {message}", err=True)
    sys.exit(code)


def friendly(func):
    """Turn user-fixable errors into one line and exit 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except QtrackError as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            _fail("interrupted", 130)

    return wrapper


def _event_arg(event: str | None) -> Path:
    if event is not None:
        return Path(event)
    if not (DEFAULT_EVENT.parent / f"{DEFAULT_EVENT.name}-hits.csv").exists():
        raise QtrackError(f"no EVENT given and the example event {DEFAULT_EVENT} is not there")
    return DEFAULT_EVENT


def _config(path: str | None, seed: int | None = None, **solve) -> Config:
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
    ("efficiency", "track efficiency", "{:.4f}"),
    ("fake_rate", "fake rate", "{:.4f}"),
    ("duplicate_rate", "duplicate rate", "{:.4f}"),
    ("tracks", "tracks", "{}"),
]


def _score_table(scores: dict) -> str:
    lines = [f"  {label:<18} {fmt.format(scores[key])}" for key, label, fmt in SCORE_ROWS if key in scores]
    return "\n".join(lines)


@main.command()
@click.argument("events", nargs=-1)
@click.option("--sampler", default="neal", show_default=True,
              help="Sampler name (see `qtrack samplers`).")
@click.option("--seed", type=int, help="Random seed (default from config: 1).")
@click.option("-o", "--outdir", default="out", show_default=True, type=click.Path(file_okay=False),
              help="Directory for <event>-submission.csv and <event>-summary.json.")
@click.option("--config", "config_path", type=click.Path(), help="TOML file overriding settings.")
@click.option("--num-reads", type=click.IntRange(min=1), help="Reads per component batch.")
@click.option("--num-sweeps", type=click.IntRange(min=1), help="Sweeps per read (neal).")
@click.option("--threads", type=click.IntRange(min=1), help="Threads for local samplers.")
@click.option("--write-qubo", is_flag=True, help="Also write <event>-qubo.npz.")
@click.option("--dwave-profile", help="Profile of the D-Wave configuration file (dwave.conf).")
@click.option("--subproblem-size", type=click.IntRange(min=2),
              help="Hardware samplers: largest sub-problem sent to the QPU.")
@click.option("--dry-run", is_flag=True,
              help="Hardware samplers: decompose and embed offline, report, submit nothing.")
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
    from . import pipeline
    from .samplers import SAMPLERS, get_sampler

    cfg = _config(config_path, seed, num_reads=num_reads, num_sweeps=num_sweeps, threads=threads)
    spec = SAMPLERS.get(sampler)
    options = {}
    if spec is not None and spec.hardware:
        from . import hardware

        if sampler != "mock-qpu" and not dry_run:
            hardware.check_credentials(sampler, profile=dwave_profile)
        options = {"profile": dwave_profile, "subproblem_size": subproblem_size, "seed": cfg.solve.seed,
                   "num_reads": num_reads}
        options = {k: v for k, v in options.items() if v is not None}
    elif dry_run:
        raise QtrackError("--dry-run is for hardware samplers (qpu, hybrid, decomposed, mock-qpu)")
    sampler_obj = None if dry_run else get_sampler(sampler, **options)
    from .runner.cli import is_many, solve_many

    if workers or scheduler or len(events) > 1 or (events and is_many(events[0])):
        if write_qubo or dry_run or options:
            raise QtrackError("--write-qubo, --dry-run and hardware samplers take one event at a time")
        sys.exit(solve_many(events, cfg, sampler, outdir, workers, scheduler, force, progress))

    built = pipeline.build(_event_arg(events[0] if events else None), cfg)
    out = Path(outdir)
    remote = spec is not None and spec.hardware and sampler != "mock-qpu"
    if write_qubo or dry_run or remote:  # a failed remote run still leaves the QUBO
        path = pipeline.write_qubo(built, out)
        log.info("wrote %s", path)
    if dry_run:
        from . import hardware

        report = hardware.dry_run(built.bqm, sampler, **options)
        path = out / f"{built.event.name}-dryrun.json"
        from .io import atomic_open

        with atomic_open(path) as f:
            json.dump(pipeline._jsonable(report), f, indent=2)
        click.echo(json.dumps(pipeline._jsonable(report), indent=2))
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
    ids of each triplet variable); see qtrack.qubo.load_qubo.
    """
    _setup_logging(verbose, quiet)
    from . import pipeline

    built = pipeline.build(Path(event), _config(config_path))
    path = pipeline.write_qubo(built, outdir)
    click.echo(f"{path}: {built.qubo.num_variables} variables, {built.qubo.num_couplers} couplers")


@main.command()
@click.argument("event")
@click.option("--density", type=click.FloatRange(0, 1, min_open=True), required=True,
              help="Fraction of particles (and of noise hits) to keep.")
@click.option("--seed", type=int, default=None, help="Random seed (default: drawn and recorded).")
@click.option("-o", "--outdir", required=True, type=click.Path(file_okay=False))
@click.option("--prefix", default=None, help="File prefix of the output (default: the event's).")
@with_common
@friendly
def dataset(event, density, seed, outdir, prefix, verbose, quiet):
    """Make a reduced barrel dataset from EVENT, the reference's convention (see qtrack.dataset)."""
    _setup_logging(verbose, quiet)
    from .dataset import make_dataset

    out = make_dataset(Path(event), density=density, seed=seed, outdir=Path(outdir), prefix=prefix)
    click.echo(f"wrote {out.prefix}-{{hits,truth,particles}}.csv: {out.n_hits} hits, "
               f"{out.n_particles} particles, {out.n_noise} noise hits (seed {out.seed})")


@main.command()
@click.argument("submission", type=click.Path())
@click.argument("event")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@with_common
@friendly
def score(submission, event, as_json, verbose, quiet):
    """Score a TrackML SUBMISSION (hit_id,track_id CSV) against EVENT's truth."""
    _setup_logging(verbose, quiet)
    from .event import _read_csv, load_event
    from .scoring import score_submission

    ev = load_event(event)
    if not ev.has_truth:
        raise QtrackError(f"{ev.prefix}-truth.csv: no truth file, cannot score")
    sub = _read_csv(Path(submission), ("hit_id", "track_id"), ("hit_id", "track_id"))
    scores = score_submission(ev.hits, ev.truth, sub, source=str(submission))
    if as_json:
        click.echo(json.dumps(scores, indent=2))
    else:
        click.echo(f"{Path(submission).name} on {ev.name}:")
        click.echo(_score_table(scores))


@main.command()
def samplers():
    """List the samplers, whether each is installed and configured."""
    from .samplers import SAMPLERS, is_installed

    click.echo(f"{'name':<11} {'installed':<10} {'configured':<11} description")
    for spec in SAMPLERS.values():
        installed = is_installed(spec)
        configured = "yes"
        if spec.hardware and spec.name != "mock-qpu":
            configured = "-"
            if installed:
                from .hardware import has_credentials

                configured = "yes" if has_credentials() else "no token"
        click.echo(f"{spec.name:<11} {'yes' if installed else 'no':<10} {configured:<11} {spec.description}")


def _register_commands() -> None:
    from .benchmark import benchmark_command
    from .plot import plot_command

    main.add_command(plot_command)
    main.add_command(benchmark_command)


_register_commands()

if __name__ == "__main__":
    main()
