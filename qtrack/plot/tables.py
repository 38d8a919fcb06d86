"""The numbers behind the figures: per-particle and per-track tables, binned rates.

The particle sets, found particles and fake tracks are :mod:`qtrack.scoring`'s (its
``particle_table`` and ``track_table``), so every count here is the score table's.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, QtrackError
from .. import scoring
from ..geometry import circle_fits, radius_of
from ..model.scattering import GEV_PER_TESLA_MM
from ..scoring import align
from ..tracks import rz_line_fit

#: Magnetic field (T) used to turn a fitted radius into pT (TrackML: 2 T solenoid).
FIELD_TESLA = 2.0



def load_submission(path: str | Path, event) -> np.ndarray:
    """Track id of every row of ``event.hits`` from a ``hit_id,track_id`` CSV (0 = no track)."""
    from ..event import read_table

    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: submission file not found")
    sub = read_table(path, ("hit_id", "track_id"), ("hit_id", "track_id"))
    return align(event.hits.hit_id.to_numpy(), sub.hit_id.to_numpy(np.int64),
                 sub.track_id.to_numpy(np.int64), str(path))


def load_inputs(summary: str | Path | None = None, submission: str | Path | None = None,
                event: str | Path | None = None):
    """(event, track_id per hit row, default output directory) from a summary or submission+event."""
    from ..event import load_event

    if summary is not None:
        summary = Path(summary)
        if not summary.exists():
            raise InputError(f"{summary}: summary file not found")
        try:
            data = json.loads(summary.read_text())
            ev_path, sub_name = data["event_path"], data["submission"]
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InputError(f"{summary}: not a JSON summary written by qtrack solve") from None
        except (KeyError, TypeError) as exc:
            raise InputError(f"{summary}: no {exc} field; expected a summary written by qtrack solve") from None
        ev_path = Path(ev_path)
        if not ev_path.is_absolute() and not _event_exists(ev_path):
            ev_path = summary.parent / ev_path
        if not _event_exists(ev_path):
            raise InputError(f"{summary}: its event {data['event_path']} (event_path) is not there")
        ev = load_event(ev_path)
        return ev, load_submission(summary.parent / sub_name, ev), summary.parent
    if submission is None or event is None:
        raise InputError("give a SUMMARY json, or both --submission FILE and --event PREFIX")
    ev = load_event(event)
    return ev, load_submission(submission, ev), Path(submission).parent


def _event_exists(prefix: Path) -> bool:
    from ..event import find_file, resolve_prefix

    try:
        return find_file(resolve_prefix(prefix), "hits") is not None
    except QtrackError:
        return False


def _require_truth(event) -> None:
    if not event.has_truth:
        raise InputError(f"{event.prefix}-truth.csv: no truth for {event.name}; efficiency and "
                         "fake rates need it (use --what display)")




def _hit_frame(event, track_id: np.ndarray) -> pd.DataFrame:
    h = event.hits
    df = pd.DataFrame({"hit_id": h.hit_id.to_numpy(), "x": h.x.to_numpy(), "y": h.y.to_numpy(),
                       "z": h.z.to_numpy(), "track_id": np.asarray(track_id)})
    df["r"] = np.hypot(df.x, df.y)
    if event.has_truth:
        df["particle_id"] = event.truth.particle_id.to_numpy()
        df["weight"] = event.truth.weight.to_numpy(dtype=float)
    return df


def _require_vertices(event) -> None:
    if not scoring.has_vertices(event.particles):
        raise InputError(f"{event.prefix}-particles.csv: no production vertices and momenta "
                         f"({', '.join(sorted(scoring.VERTEX_COLUMNS))}) for {event.name}; the "
                         "efficiency figure needs them (use --what display)")


def particle_table(event, track_id: np.ndarray) -> pd.DataFrame:
    """One row per particle with hits: :func:`qtrack.scoring.particle_table` (pt and eta at
    production, the particle sets, found)."""
    _require_truth(event)
    _require_vertices(event)
    return scoring.particle_table(event.hits, event.truth, event.particles, np.asarray(track_id))


def fit_tracks(df: pd.DataFrame, field_tesla: float = FIELD_TESLA) -> pd.DataFrame:
    """Per track of ``df`` (hit rows with x, y, z, r, track_id): eta from a straight-line fit of z
    vs r, pT from the circle fitted in x-y (:func:`qtrack.geometry.circle_fit`; infinite for a
    straight track), and the number of hits."""
    on = df[df.track_id != 0]
    tid, inv = np.unique(on.track_id.to_numpy(), return_inverse=True)
    x, y, z, r = (on[c].to_numpy(float) for c in ("x", "y", "z", "r"))
    n = np.bincount(inv).astype(float)
    cot, _ = rz_line_fit(inv, r, z, len(tid))
    eta = np.arcsinh(np.nan_to_num(cot))
    order = np.argsort(inv, kind="stable")
    radius = radius_of(circle_fits(np.concatenate([[0], np.cumsum(n)]).astype(np.int64), order, x, y))
    pt = GEV_PER_TESLA_MM * field_tesla * radius
    return pd.DataFrame({"track_id": tid, "nhits": n.astype(int), "eta": eta, "pt": pt})


def track_table(event, track_id: np.ndarray) -> pd.DataFrame:
    """One row per track (:func:`qtrack.scoring.track_table`: >= 3 hits): nhits, eta and pT
    fitted to its hits, most frequent particle, fake (bool)."""
    _require_truth(event)
    df = _hit_frame(event, track_id)
    t = scoring.track_table(df.track_id.to_numpy(), df.particle_id.to_numpy())
    fit = fit_tracks(df).drop(columns="nhits")
    return t[["track_id", "nhits", "particle_id", "fake"]].merge(fit, on="track_id")[
        ["track_id", "nhits", "eta", "pt", "particle_id", "fake"]]


def binomial_interval(k, n, cl: float = 0.6827):
    """Clopper-Pearson interval of k successes in n trials (arrays); NaN where n == 0."""
    from scipy.stats import beta

    k, n = np.asarray(k, float), np.asarray(n, float)
    alpha = 1 - cl
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = np.where(k > 0, beta.ppf(alpha / 2, k, n - k + 1), 0.0)
        hi = np.where(k < n, beta.ppf(1 - alpha / 2, k + 1, n - k), 1.0)
    lo = np.where(n > 0, lo, np.nan)
    hi = np.where(n > 0, hi, np.nan)
    return lo, hi


def binned_rate(values: np.ndarray, passed: np.ndarray, edges: np.ndarray) -> pd.DataFrame:
    """Per bin of ``values``: n, k (passed), rate = k/n and its Clopper-Pearson 68 % interval.

    Values beyond the edges count in the first or last bin, so every finite value is in one bin
    and the bins add up to the score table's counts.
    """
    values = np.asarray(values, float)
    passed = np.asarray(passed, bool)
    idx = np.clip(np.digitize(values, edges) - 1, 0, len(edges) - 2)
    inside = np.isfinite(values)
    n = np.bincount(idx[inside], minlength=len(edges) - 1)
    k = np.bincount(idx[inside], weights=passed[inside], minlength=len(edges) - 1)
    lo, hi = binomial_interval(k, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n > 0, k / n, np.nan)
    return pd.DataFrame({"lo_edge": edges[:-1], "hi_edge": edges[1:], "n": n, "k": k.astype(int),
                         "rate": rate, "err_lo": lo, "err_hi": hi})


PT_EDGES = np.array([0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 100.0])


def eta_edges(n: int, eta_max: float = 4.0) -> np.ndarray:
    """Pseudorapidity bins: 0.25 wide with >= 200 entries, else 0.5."""
    width = 0.25 if n >= 200 else 0.5
    return np.arange(-eta_max, eta_max + width / 2, width)


def efficiency_tables(event, track_id: np.ndarray) -> dict[str, pd.DataFrame]:
    """The binned numbers behind the efficiency figure, keyed by curve name: efficiency of the
    focused particles and of the primaries on >= 5 layers (any pT) against pT, of the focused
    particles against eta, and the tracks' fake rate against their fitted eta and pT."""
    parts = particle_table(event, track_id)
    tracks = track_table(event, track_id)
    foc = parts[parts.focused]
    prim = parts[parts.primary & (parts.n_layers >= scoring.MIN_LAYERS)]
    return {
        "eff_vs_pt_focused": binned_rate(foc.pt, foc.found, PT_EDGES),
        "eff_vs_pt_primaries": binned_rate(prim.pt, prim.found, PT_EDGES),
        "eff_vs_eta_focused": binned_rate(foc.eta, foc.found, eta_edges(len(foc))),
        "fake_vs_eta": binned_rate(tracks.eta, tracks.fake, eta_edges(len(tracks))),
        "fake_vs_pt": binned_rate(tracks.pt, tracks.fake, PT_EDGES),
    }
