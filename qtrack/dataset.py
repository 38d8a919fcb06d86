"""Dataset maker: reduced-density barrel events, the reference's ("dsmaker") convention.

1. keep hits on the barrel layers of the layer table;
2. drop double hits: keep the first hit (in file order) per (particle, volume, layer);
3. sample ``int(density * n_particles)`` particles (with all their remaining hits) and
   ``int(density * n_noise)`` noise hits, uniformly without replacement;
4. truth weights: 0 for hits whose own pT = hypot(tpx, tpy) < ``min_pt`` and for particles with
   fewer than ``min_hits`` hits left; the others keep their original weight, renormalised to sum 1.
   Particles with non-zero weight are the "weighted" ones (:mod:`qtrack.scoring`).

The same input and seed give byte-identical files.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .model.layers import TRACKML_BARREL, LayerTable
from .errors import InputError
from .event import load_event
from .io import write_csv, write_json


@dataclass(frozen=True)
class DatasetInfo:
    prefix: Path
    n_hits: int
    n_particles: int
    n_noise: int
    seed: int


def reduce_event(hits: pd.DataFrame, truth: pd.DataFrame, density: float, seed: int,
                 layers: LayerTable = TRACKML_BARREL, min_pt: float = 1.0,
                 min_hits: int = 5) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """The reduced (hits, truth) rows and the kept particle ids. ``truth`` aligned with ``hits``."""
    if not 0 < density <= 1:
        raise InputError(f"density must be in (0, 1], got {density}")
    inside = layers.index_of(hits.volume_id.to_numpy(), hits.layer_id.to_numpy()) >= 0
    pid = truth.particle_id.to_numpy()
    key = pd.DataFrame({"p": pid, "v": hits.volume_id.to_numpy(), "l": hits.layer_id.to_numpy()})
    double = key.duplicated(keep="first").to_numpy() & (pid != 0)
    keep = inside & ~double
    particles = np.unique(pid[keep & (pid != 0)])
    noise = np.flatnonzero(keep & (pid == 0))
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(particles, int(density * len(particles)), replace=False))
    noise_kept = np.sort(rng.choice(noise, int(density * len(noise)), replace=False))
    rows = np.flatnonzero(keep & np.isin(pid, chosen))
    rows = np.union1d(rows, noise_kept)
    h, t = hits.iloc[rows].reset_index(drop=True), truth.iloc[rows].reset_index(drop=True).copy()
    pt = np.hypot(t.tpx.to_numpy(), t.tpy.to_numpy())
    counts = t.particle_id.map(t.particle_id.value_counts()).to_numpy()
    w = t.weight.to_numpy(dtype=float).copy()
    w[(pt < min_pt) | (counts < min_hits) | (t.particle_id.to_numpy() == 0)] = 0.0
    t["weight"] = w / w.sum() if w.sum() > 0 else w
    return h, t, chosen


def make_dataset(event: str | Path, density: float, outdir: str | Path, seed: int | None = None,
                 prefix: str | None = None, layers: LayerTable = TRACKML_BARREL) -> DatasetInfo:
    """Write ``OUTDIR/PREFIX-{hits,truth,particles}.csv`` and ``PREFIX-meta.json``."""
    ev = load_event(event, layers=layers)
    if not ev.has_truth:
        raise InputError(f"{ev.prefix}-truth.csv: the dataset maker needs truth")
    outdir = Path(outdir)
    out = outdir / (prefix or ev.name)
    if out.resolve() == ev.prefix.resolve():
        raise InputError(f"{out}-hits.csv: the output would overwrite the input event; "
                         "choose another output directory or prefix")
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % 2**31)
    hits, truth, chosen = reduce_event(ev.hits, ev.truth, density, seed, layers)
    outdir.mkdir(parents=True, exist_ok=True)
    write_csv(out.with_name(f"{out.name}-hits.csv"), hits)
    write_csv(out.with_name(f"{out.name}-truth.csv"), truth)
    if ev.particles is not None:
        parts = ev.particles[ev.particles.particle_id.isin(chosen)]
        write_csv(out.with_name(f"{out.name}-particles.csv"), parts)
    n_noise = int((truth.particle_id == 0).sum())
    meta = {"source": str(ev.prefix), "density": density, "seed": seed, "num_hits": len(hits),
            "num_particles": len(chosen), "num_noise": n_noise,
            "num_weighted_particles": int(truth[truth.weight > 0].particle_id.nunique())}
    meta_path = out.with_name(f"{out.name}-meta.json")
    write_json(meta_path, meta)
    return DatasetInfo(out, len(hits), len(chosen), n_noise, seed)
