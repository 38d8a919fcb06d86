"""Scores: the TrackML score, the reference's doublet precision/recall, track-level rates.

Conventions
-----------
* ``trackml_score`` is the official trackml-library ``score_event``: every ``track_id`` of the
  submission is a track, ``0`` included (the reference writes unassigned hits as track 0 and scores
  them this way too); a track counts when more than half of its hits belong to its majority particle
  and it holds more than half of that particle's hits; ties for the majority go to the smaller
  particle id; the score is the summed truth weight of the majority particle's hits in counting
  tracks, over the total weight.
* Doublet precision/recall follow the reference: true doublets are consecutive hits (by radius) of a
  particle among its weighted hits ("focused"); unweighted ones are ignored, not counted as fakes.
* Track-level: a track *matches* a particle when > 50 % of its hits are that particle's and it
  holds > 50 % of that particle's hits. Efficiency = matched focused particles / focused particles
  (particles with non-zero total weight); fake rate = tracks in which no particle holds > 50 % of the
  hits / tracks; duplicate rate = tracks whose > 50 % particle already has another such track /
  tracks. Track ``0`` (no track) is excluded from track-level rates.
* With a particles table (production vertex and momentum), the full-detector definitions are
  added (:func:`focused_rates`): *focused* particles have pT >= 1 GeV at production, a production
  vertex within 10 mm of the beam line and hits on >= 5 distinct layers (any volumes);
  ``focused_efficiency`` is their matched fraction, ``endcap_efficiency`` the same for those
  with a hit on an endcap disk, and ``oracle_score`` the TrackML score of the submission that
  holds exactly the focused particles, each with all its hits (the ceiling at this pT cut).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import InputError


def majority(track_id: np.ndarray, particle_id: np.ndarray, weight: np.ndarray) -> pd.DataFrame:
    """Per track: size, majority particle (smallest id among ties), its hit count and weight."""
    df = pd.DataFrame({"track_id": track_id, "particle_id": particle_id, "weight": weight})
    g = df.groupby(["track_id", "particle_id"], sort=True).agg(n=("weight", "size"), w=("weight", "sum"))
    g = g.reset_index()
    nhits = g.groupby("track_id")["n"].transform("sum")
    g["nhits"] = nhits
    # Stable sort by count descending keeps ascending particle id among equal counts.
    g = g.sort_values(["track_id", "n", "particle_id"], ascending=[True, False, True], kind="stable")
    return g.drop_duplicates("track_id", keep="first").reset_index(drop=True)


def align(hit_id, sub_hit_id, sub_track_id, source: str = "submission") -> np.ndarray:
    """Track id of every hit of the event (``hit_id``) from a submission, which must list each
    of them exactly once and nothing else."""
    hit_id = np.asarray(hit_id)
    sub = pd.Series(np.asarray(sub_track_id), index=np.asarray(sub_hit_id))
    if sub.index.duplicated().any():
        dup = sub.index[sub.index.duplicated()][0]
        raise InputError(f"{source}: hit_id {dup} appears more than once")
    missing = ~pd.Index(hit_id).isin(sub.index)
    if missing.any():
        raise InputError(
            f"{source}: {int(missing.sum())} hit(s) of the event missing, e.g. hit_id "
            f"{hit_id[missing][0]}; is it a submission for this event?")
    extra = ~sub.index.isin(hit_id)
    if extra.any():
        raise InputError(
            f"{source}: {int(extra.sum())} hit id(s) that are not in the event, e.g. hit_id "
            f"{sub.index[extra][0]}; is it a submission for this event?")
    return sub.loc[hit_id].to_numpy()


def trackml_score(truth_hit_id, particle_id, weight, sub_hit_id, sub_track_id) -> float:
    """The official TrackML score of a submission (see the module docstring)."""
    weight = np.asarray(weight, dtype=np.float64)
    track_id = align(truth_hit_id, sub_hit_id, sub_track_id)
    total = weight.sum()
    if total <= 0:
        return 0.0
    maj = majority(track_id, np.asarray(particle_id), weight)
    particle_nhits = pd.Series(np.asarray(particle_id)).value_counts()
    pn = particle_nhits.loc[maj.particle_id].to_numpy()
    good = (maj.n / maj.nhits > 0.5) & (maj.n / pn > 0.5)
    return float(maj.w[good.to_numpy()].sum() / total)


def true_doublets(hit_id, r, particle_id, weight) -> tuple[np.ndarray, np.ndarray]:
    """(focused, unfocused) true doublets as (n, 2) hit-id arrays, the reference's definition."""
    df = pd.DataFrame({"hit_id": hit_id, "r": r, "pid": particle_id, "w": weight})
    df = df[df.pid != 0]
    out = []
    for part in (df[df.w > 0], df[df.w == 0]):
        part = part.sort_values(["pid", "r"], kind="stable")
        h, p = part.hit_id.to_numpy(), part.pid.to_numpy()
        same = p[1:] == p[:-1]
        out.append(np.stack([h[:-1][same], h[1:][same]], axis=1))
    return out[0], out[1]


def rows_in(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mask of the rows of ``a`` (n, 2) that appear in ``b`` (m, 2)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros(len(a), dtype=bool)
    base = int(max(a.max(), b.max())) + 1
    return np.isin(a[:, 0] * base + a[:, 1], b[:, 0] * base + b[:, 1])


def doublet_scores(found: np.ndarray, focused: np.ndarray, unfocused: np.ndarray) -> dict:
    """The reference's doublet precision and recall of ``found`` (n, 2) hit-id doublets."""
    found = np.unique(found.reshape(-1, 2), axis=0) if len(found) else found.reshape(0, 2)
    valid = int(rows_in(found, focused).sum())
    oops = int(rows_in(found, unfocused).sum())
    denom = len(found) - oops
    return {
        "doublet_precision": valid / denom if denom else 0.0,
        "doublet_recall": valid / len(focused) if len(focused) else 0.0,
        "doublets_found": int(len(found)),
        "doublets_true": int(len(focused)),
    }


BARREL_VOLUMES = (8, 13, 17)


def focused_particles(hits: pd.DataFrame, truth: pd.DataFrame, particles: pd.DataFrame,
                      min_pt: float = 1.0, max_vertex_r: float = 10.0,
                      min_layers: int = 5) -> pd.DataFrame:
    """The focused particles (see the module docstring): particle_id, pt, eta, vz, n_layers and
    ``endcap`` (has a hit on a disk), one row each."""
    p = particles.drop_duplicates("particle_id")
    pt = np.hypot(p.px.to_numpy(), p.py.to_numpy())
    keep = (pt >= min_pt) & (np.hypot(p.vx.to_numpy(), p.vy.to_numpy()) <= max_vertex_r)
    p = p[keep].assign(pt=pt[keep])
    h = pd.DataFrame({"particle_id": truth.particle_id.to_numpy(),
                      "volume_id": hits.volume_id.to_numpy(), "layer_id": hits.layer_id.to_numpy()})
    h = h[h.particle_id.isin(p.particle_id)]
    h = h.assign(disk=~h.volume_id.isin(BARREL_VOLUMES))
    per = pd.DataFrame({
        "n_layers": h.drop_duplicates(["particle_id", "volume_id", "layer_id"]).groupby(
            "particle_id").size(),
        "endcap": h.groupby("particle_id").disk.any()})
    p = p.merge(per, left_on="particle_id", right_index=True)
    p = p[p.n_layers >= min_layers]
    theta = np.arctan2(p.pt.to_numpy(), p.pz.to_numpy())
    return pd.DataFrame({"particle_id": p.particle_id.to_numpy(), "pt": p.pt.to_numpy(),
                         "eta": -np.log(np.tan(theta / 2)), "vz": p.vz.to_numpy(),
                         "n_layers": p.n_layers.to_numpy(), "endcap": p.endcap.to_numpy()})


def matched_particles(track_id, particle_id) -> np.ndarray:
    """Particles a track matches (> 50 % of the track's hits, > 50 % of the particle's hits)."""
    track_id, particle_id = np.asarray(track_id), np.asarray(particle_id)
    on_track = track_id != 0
    maj = majority(track_id[on_track], particle_id[on_track], np.ones(on_track.sum()))
    pn = pd.Series(particle_id).value_counts().loc[maj.particle_id].to_numpy()
    good = (maj.n / maj.nhits > 0.5).to_numpy() & (maj.n.to_numpy() / pn > 0.5)
    return np.unique(maj.particle_id.to_numpy()[good & (maj.particle_id.to_numpy() != 0)])


def focused_rates(hits: pd.DataFrame, truth: pd.DataFrame, particles: pd.DataFrame,
                  track_id: np.ndarray) -> dict:
    """Efficiencies over the focused particles and the oracle score (module docstring)."""
    foc = focused_particles(hits, truth, particles)
    pid = truth.particle_id.to_numpy()
    matched = np.isin(foc.particle_id.to_numpy(), matched_particles(track_id, pid))
    endcap = foc.endcap.to_numpy()
    oracle_tracks = np.where(np.isin(pid, foc.particle_id.to_numpy()), pid, 0)
    hid, w = truth.hit_id.to_numpy(), truth.weight.to_numpy()
    return {
        "focused_particles_full": int(len(foc)),
        "focused_efficiency": float(matched.mean()) if len(foc) else 0.0,
        "endcap_particles": int(endcap.sum()),
        "endcap_efficiency": float(matched[endcap].mean()) if endcap.any() else 0.0,
        "oracle_score": trackml_score(hid, pid, w, hid, oracle_tracks),
    }


def track_rates(track_id, particle_id, weight) -> dict:
    """Efficiency, fake rate and duplicate rate (see the module docstring)."""
    track_id = np.asarray(track_id)
    particle_id = np.asarray(particle_id)
    weight = np.asarray(weight, dtype=np.float64)
    pw = pd.Series(weight).groupby(particle_id).sum()
    focused = set(pw.index[(pw.to_numpy() > 0) & (pw.index.to_numpy() != 0)])
    on_track = track_id != 0
    maj = majority(track_id[on_track], particle_id[on_track], weight[on_track])
    n_tracks = len(maj)
    pn = pd.Series(particle_id).value_counts().loc[maj.particle_id].to_numpy()
    pure = (maj.n / maj.nhits > 0.5).to_numpy() & (maj.particle_id.to_numpy() != 0)
    matched = pure & (maj.n.to_numpy() / pn > 0.5)
    matched_focused = {p for p in maj.particle_id[matched] if p in focused}
    pure_per_particle = maj.particle_id[pure].value_counts()
    duplicates = int((pure_per_particle - 1).clip(lower=0).sum())
    return {
        "tracks": int(n_tracks),
        "focused_particles": len(focused),
        "matched_focused": len(matched_focused),
        "efficiency": len(matched_focused) / len(focused) if focused else 0.0,
        "fake_rate": float((~pure).sum() / n_tracks) if n_tracks else 0.0,
        "duplicate_rate": duplicates / n_tracks if n_tracks else 0.0,
    }


def submission_doublets(hit_id, r, track_id) -> np.ndarray:
    """Consecutive hits (by radius) of every track of a submission, as (n, 2) hit ids."""
    df = pd.DataFrame({"hit_id": hit_id, "r": r, "t": track_id})
    df = df[df.t != 0].sort_values(["t", "r"], kind="stable")
    h, t = df.hit_id.to_numpy(), df.t.to_numpy()
    same = t[1:] == t[:-1]
    return np.stack([h[:-1][same], h[1:][same]], axis=1)


def score_submission(hits: pd.DataFrame, truth: pd.DataFrame, submission: pd.DataFrame,
                     source: str = "submission") -> dict:
    """All scores of a TrackML submission (columns ``hit_id, track_id``) against truth.

    ``source`` names the submission (its file) in error messages.
    """
    for col in ("hit_id", "track_id"):
        if col not in submission.columns:
            raise InputError(f"{source}: missing column {col}; expected hit_id,track_id")
    track_id = align(truth.hit_id.to_numpy(), submission.hit_id.to_numpy(),
                     submission.track_id.to_numpy(), source)
    return score_tracks(hits, truth, track_id)


def score_tracks(hits: pd.DataFrame, truth: pd.DataFrame, track_id: np.ndarray,
                 found_doublets: np.ndarray | None = None,
                 particles: pd.DataFrame | None = None) -> dict:
    """All scores of ``track_id`` (one per row of ``truth``, whose rows match ``hits``).

    ``found_doublets`` (n, 2 hit ids) are the doublets the tracks are made of; by default the
    consecutive hits of each track by radius.
    """
    r = np.hypot(hits.x.to_numpy(), hits.y.to_numpy())
    pid, w, hid = truth.particle_id.to_numpy(), truth.weight.to_numpy(), truth.hit_id.to_numpy()
    focused, unfocused = true_doublets(hid, r, pid, w)
    if found_doublets is None:
        found_doublets = submission_doublets(hid, r, track_id)
    out = {"trackml_score": trackml_score(hid, pid, w, hid, track_id)}
    out.update(doublet_scores(found_doublets, focused, unfocused))
    out.update(track_rates(track_id, pid, w))
    if particles is not None and {"vx", "vy", "vz", "px", "py", "pz"} <= set(particles.columns):
        out.update(focused_rates(hits, truth, particles, track_id))
    return out
