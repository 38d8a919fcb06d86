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

import logging
import sys
import time
from pathlib import Path

import click

from .cli_common import friendly, interrupted, setup_logging, with_common
from .errors import QtrackError
from .io import check_writable
from .simulate.cli import simulate_command

log = logging.getLogger("qtrack")


def _shipped_event() -> Path:
    """The small event of the repository's ``data/``, installed as package data ``qtrack.data``."""
    from importlib.resources import files

    return Path(str(files("qtrack.data"))) / "event000001000"


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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qtrack")
def main():
    """qtrack: charged-particle tracks from TrackML hits, via a QUBO solved by annealing."""


#: The score table of ``solve`` and ``score``: (key, label, count of what); the labels are the
#: README's "What the numbers mean" and :mod:`qtrack.scoring`'s names.
SCORE_ROWS = [
    ("trackml_score", "TrackML score", None),
    ("oracle_score", "oracle TrackML score", None),
    ("doublet_precision", "doublet precision", None),
    ("doublet_recall", "doublet recall", None),
    ("focused_efficiency", "efficiency (focused)", "focused"),
    ("endcap_efficiency", "efficiency (endcap)", "endcap"),
    ("low_pt_efficiency", "efficiency (low pT)", "low_pt"),
    ("fake_rate", "fake rate", "fake"),
    ("duplicate_rate", "duplicate rate", "duplicate"),
    ("tracks", "tracks", None),
]


def score_table(scores: dict) -> str:
    """The table ``qtrack solve`` and ``qtrack score`` print (rows of empty sets left out)."""
    lines = []
    for key, label, counted in SCORE_ROWS:
        if key not in scores:
            continue
        value = scores[key]
        if counted in ("fake", "duplicate"):
            lines.append(f"  {label:<22} {value:.4f}  ({scores[counted + '_tracks']} of "
                         f"{scores['tracks']} tracks)")
        elif counted:
            n = scores[f"{counted}_particles"]
            if n:
                lines.append(f"  {label:<22} {value:.4f}  ({scores[counted + '_found']} of {n} "
                             "particles found)")
        else:
            lines.append(f"  {label:<22} {value:.4f}" if isinstance(value, float)
                         else f"  {label:<22} {value}")
    if "focused_particles" not in scores:
        lines.append("  (no production vertices in the particles file: no efficiencies, "
                     "duplicates or oracle)")
    return "\n".join(lines)


SEED = click.IntRange(0, 2**63 - 1)

max_memory_option = click.option(
    "--max-memory", type=click.FloatRange(0, min_open=True), metavar="GB",
    help="Stop (exit 2) before building an event estimated to need more memory than this "
         "(default: what the machine and any address-space limit leave).")


@main.command()
@click.argument("events", nargs=-1)
@click.option("--sampler", default="neal", show_default=True,
              help="Sampler name (see `qtrack samplers`).")
@click.option("--seed", type=SEED, help="Random seed (default from config: 1).")
@click.option("-o", "--outdir", default="out", show_default=True, type=click.Path(file_okay=False),
              help="Directory for <event>-submission.csv and <event>-summary.json.")
@click.option("--config", "config_path", type=click.Path(), help="TOML file overriding settings.")
@click.option("--num-reads", type=click.IntRange(min=1),
              help="Reads per component (annealers: below [solve] large_component variables).")
@click.option("--num-sweeps", type=click.IntRange(min=1),
              help="Sweeps per read (neal; the same components).")
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
@max_memory_option
@with_common
@friendly
def solve(events, sampler, seed, outdir, config_path, num_reads, num_sweeps, threads, write_qubo,
          dwave_profile, subproblem_size, dry_run, progress, workers, scheduler, force, max_memory,
          verbose, quiet):
    """Find the tracks of EVENTS (path prefix, hits file or directory; default: the shipped event).

    Writes OUTDIR/<event>-submission.csv (hit_id,track_id; 0 = no track) and
    OUTDIR/<event>-summary.json (sizes, time per stage, scores when truth exists).

    Several events, a directory of events or a glob, or --workers/--scheduler: solves them all
    (in-process, or on Dask), skips those already solved with the same settings, and writes
    OUTDIR/results.parquet and results.csv, one row per event.
    """
    t0 = time.perf_counter()
    setup_logging(verbose, quiet)
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
        if max_memory is not None:
            raise QtrackError("--max-memory takes one event at a time (each worker checks the "
                              "memory it has)")
        # The runner stops its cluster and writes its table on Ctrl-C: a KeyboardInterrupt, not
        # the single-event path's immediate exit.
        import signal

        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.exit(solve_many(events, cfg, sampler, outdir, workers, scheduler, force, progress))
    event_path = _event_arg(events[0] if events else None)

    from . import pipeline

    built = pipeline.build(event_path, cfg, max_memory, keep_candidates=False)
    if write_qubo or dry_run or caps.remote:  # a failed remote run still leaves the QUBO
        path = pipeline.write_qubo(built, out)
        log.info("wrote %s", path)
    if dry_run:
        import json

        from .io import jsonable, write_json

        show = sys.stderr.isatty() if progress is None else progress
        from .passes import passes_of

        n_passes = len(passes_of(cfg))
        if n_passes > 1:
            log.warning("the dry run plans the first of %d passes: the later passes' QUBOs are "
                        "built on the hits its tracks leave, known only once it is solved "
                        "(--config fast has the first alone)", n_passes)
        report = {"sampler": sampler, "passes_planned": 1, "passes": n_passes,
                  **sampler_obj.offline_report(built.bqm, progress=show)}
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
        click.echo(score_table(result.scores))
    else:
        click.echo("  (no truth: not scored)")


@main.command()
@click.argument("event")
@click.option("-o", "--outdir", default="out", show_default=True, type=click.Path(file_okay=False))
@click.option("--config", "config_path", type=click.Path(), help="TOML file overriding settings.")
@max_memory_option
@with_common
@friendly
def build(event, outdir, config_path, max_memory, verbose, quiet):
    """Build the QUBO of EVENT and write OUTDIR/<event>-qubo.npz.

    The file holds numpy arrays linear, irow, icol, quad (the QUBO) and hit_ids (the TrackML hit
    ids of each triplet variable); see qtrack.model.qubo.load_qubo.
    """
    setup_logging(verbose, quiet)
    cfg = _config(config_path)
    out = check_writable(outdir)
    from . import pipeline

    built = pipeline.build(Path(event), cfg, max_memory)
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
    setup_logging(verbose, quiet)
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
    """Score a TrackML SUBMISSION (hit_id,track_id CSV) against EVENT's truth: the table (or JSON
    scores) `qtrack solve` gives for the same tracks."""
    setup_logging(verbose, quiet)
    from .event import load_event, read_table
    from .scoring import score_submission

    ev = load_event(event)
    if not ev.has_truth:
        raise QtrackError(f"{ev.prefix}-truth.csv: no truth file, cannot score")
    sub = read_table(Path(submission), ("hit_id", "track_id"), ("hit_id", "track_id"))
    scores = score_submission(ev.hits, ev.truth, sub, source=str(submission),
                              particles=ev.particles)
    if as_json:
        import json

        click.echo(json.dumps(scores, indent=2))
    else:
        click.echo(f"{Path(submission).name} on {ev.name}:")
        click.echo(score_table(scores))


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


# Defined in its own stage's folder, over the helpers of qtrack.cli_common.
main.add_command(simulate_command)


def run() -> None:
    """The ``qtrack`` console script: :func:`main`, with Ctrl-C anywhere giving exit 130."""
    try:
        code = main(standalone_mode=False)
    except KeyboardInterrupt:
        interrupted()
    except click.Abort:
        interrupted()
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        # Usage errors too get one line (click's own shows usage, a hint and the error).
        click.echo(f"qtrack: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)

