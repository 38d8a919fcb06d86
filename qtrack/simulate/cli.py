"""``qtrack simulate``: the command line over :func:`qtrack.simulate.run`.

Imports only click and the config at import time, so ``qtrack --help`` does not load ACTS.
"""
from __future__ import annotations

import sys

import click

from ..cli_common import friendly, setup_logging
from .config import GUN_SPECIES, HARD_PROCESSES, SimulationConfig


@click.command("simulate")
@click.option("-o", "--outdir", required=True, type=click.Path(file_okay=False),
              help="Directory for the event files, detectors.csv.gz and the run record.")
@click.option("--events", default=1, show_default=True, type=click.IntRange(min=1), help="Number of events.")
@click.option("--first-event", default=0, show_default=True, type=click.IntRange(min=0),
              help="Number of the first event (files eventNNNNNNNNN-*).")
@click.option("--pileup", default=200.0, show_default=True, type=float,
              help="Mean number of minimum-bias vertices (Poisson).")
@click.option("--hard", default="ttbar", show_default=True, type=click.Choice(HARD_PROCESSES),
              help="Hard process on the primary vertex.")
@click.option("--seed", default=1, show_default=True, type=int, help="Run seed; same seed, same files.")
@click.option("--noise-fraction", default=0.1, show_default=True, type=float,
              help="Fraction of all hits that are random noise.")
@click.option("--vertex-sigma-z", default=50.0, show_default=True, type=float,
              help="Luminous region length (Gaussian sigma, mm).")
@click.option("--vertex-sigma-xy", default=0.01, show_default=True, type=float,
              help="Luminous region width (Gaussian sigma, mm).")
@click.option("--gun-particles", default=0, show_default=True, type=int,
              help="Single particles added to the primary vertex.")
@click.option("--gun-pdg", default=13, show_default=True, type=click.Choice([str(k) for k in GUN_SPECIES]),
              help="Gun particle type (PDG id; the charge sign is random).")
@click.option("--gun-pt", default=(1.0, 10.0), show_default=True, nargs=2, type=float,
              help="Gun pT range (GeV), uniform.")
@click.option("--gun-eta", default=(-3.0, 3.0), show_default=True, nargs=2, type=float,
              help="Gun eta range, uniform.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="Processes simulating events in parallel.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
@click.option("-v", "--verbose", count=True, help="More log output.")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@friendly
def simulate_command(outdir, events, first_event, pileup, hard, seed, noise_fraction, vertex_sigma_z,
                     vertex_sigma_xy, gun_particles, gun_pdg, gun_pt, gun_eta, workers, progress, verbose,
                     quiet):
    """Simulate full-detector TrackML events with truth (Pythia8 + ACTS Fatras).

    Writes OUTDIR/eventNNNNNNNNN-{hits,truth,particles}.csv.gz, OUTDIR/detectors.csv.gz and
    OUTDIR/simulation-<first>-<last>.json (configuration, versions, timings). Needs
    pip install 'qtrack[sim]'.
    """
    setup_logging(verbose, quiet)
    from .pipeline import run

    cfg = SimulationConfig(hard=hard, pileup=pileup, seed=seed, noise_fraction=noise_fraction,
                           vertex_sigma_z=vertex_sigma_z, vertex_sigma_xy=vertex_sigma_xy,
                           gun_particles=gun_particles, gun_pdg=int(gun_pdg), gun_pt=tuple(gun_pt),
                           gun_eta=tuple(gun_eta))
    show = sys.stderr.isatty() if progress is None else progress
    record = run(cfg, outdir, events=events, first_event=first_event, workers=workers, progress=show)
    hits = [s["hits"] for s in record["per_event"]]
    click.echo(f"{outdir}: {events} event(s), {min(hits)}-{max(hits)} hits each, "
               f"{record['wall_s']:.1f} s  ->  {record['record_path']}")
