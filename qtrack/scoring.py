"""Scores of a submission against truth: the one definition of every figure qtrack prints.

The printed table, the summary JSON's ``scores``, the figures and the README's "What the numbers
mean" use the names below, and only these.

Particle sets
-------------
* *weighted* hits and particles: non-zero truth ``weight``. The TrackML score is made of these
  weights; the doublet precision and recall count the doublets of weighted particles (the
  reference's definition).
* *primaries*: particles produced within ``MAX_VERTEX_R`` = 10 mm of the beam line (transverse
  distance of the production vertex).
* *focused* particles: primaries with pT >= 1 GeV at production and hits on >= 5 distinct layers
  (any volume).
* *endcap* particles: the focused particles with a hit on an endcap disk (any volume but the
  barrel's 8, 13, 17).
* *low-pT primaries*: primaries with 0.3 <= pT < 1 GeV at production and hits on >= 5 distinct
  layers (the focused conditions, one pT band lower).

The last four need a particles table with the production vertex and momentum (``vx, vy, px, py,
pz``); without one they are not scored.

Tracks and particles
--------------------
* The *tracks* are the submission's track ids other than 0 (0 = no track) with >= 3 hits.
* A particle is *found* when one track holds > 50 % of its hits and > 50 % of that track's hits are
  its own. ``<set>_efficiency`` = found / ``<set>_particles`` of a set.
* A *fake* track: its most frequent particle holds <= 50 % of its hits, or that particle is noise
  (particle 0). ``fake_rate`` = fake tracks / tracks.
* A *duplicate* track: > 50 % of its hits belong to a found focused particle that another track
  already matches (holds > 50 % of its hits). ``duplicate_rate`` = duplicate tracks / tracks.
* ``trackml_score`` is the official trackml-library ``score_event``: every ``track_id`` of the
  submission is a track, ``0`` and short tracks included (the reference writes unassigned hits as
  track 0 and scores them this way too); a track counts when more than half of its hits belong to
  its majority particle and it holds more than half of that particle's hits; ties for the majority
  go to the smaller particle id; the score is the summed truth weight of the majority particle's
  hits in counting tracks, over the total weight.
* ``oracle_score``: the TrackML score of a perfect tracker that finds exactly the focused
  particles, each with all its hits. Other particles (pT < 1 GeV, secondaries) carry weight too, so
  a tracker that finds some of them scores above the oracle.
* Doublet precision and recall: the doublets of a track are its consecutive hits by radius, the
  true doublets the consecutive hits by radius of a weighted particle; precision = found true
  doublets / found doublets that are not doublets of an unweighted particle (those are neither
  right nor wrong), recall = found true doublets / true doublets.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import InputError
from .model.layers import BARREL_VOLUMES


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
    """The consecutive hits by radius of (weighted, unweighted) particles as (n, 2) hit-id arrays:
    the true doublets, the reference's definition, and those that are neither right nor wrong."""
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


def _rate(k: int, n: int) -> float:
    return k / n if n else 0.0


def doublet_scores(found: np.ndarray, weighted: np.ndarray, unweighted: np.ndarray) -> dict:
    """The reference's doublet precision and recall of ``found`` (n, 2) hit-id doublets against
    the true doublets of weighted and unweighted particles (:func:`true_doublets`)."""
    found = np.unique(found.reshape(-1, 2), axis=0) if len(found) else found.reshape(0, 2)
    valid = int(rows_in(found, weighted).sum())
    oops = int(rows_in(found, unweighted).sum())
    return {
        "doublet_precision": _rate(valid, len(found) - oops),
        "doublet_recall": _rate(valid, len(weighted)),
        "doublets_found": int(len(found)),
        "doublets_true": int(len(weighted)),
    }


#: Primaries are produced within this distance (mm) of the beam line.
MAX_VERTEX_R = 10.0
#: Focused particles: pT (GeV) at production at least this ...
FOCUSED_MIN_PT = 1.0
#: ... and hits on this many distinct layers; low-pT primaries: the same layers, pT in this band.
MIN_LAYERS = 5
LOW_PT_BAND = (0.3, 1.0)
#: Tracks with fewer hits are not counted as tracks (nor as fakes).
MIN_TRACK_HITS = 3
VERTEX_COLUMNS = {"vx", "vy", "px", "py", "pz"}


def has_vertices(particles: pd.DataFrame | None) -> bool:
    """Whether ``particles`` gives production vertices and momenta (the sets beyond weighted)."""
    return particles is not None and VERTEX_COLUMNS <= set(particles.columns)


def particle_table(hits: pd.DataFrame, truth: pd.DataFrame, particles: pd.DataFrame | None = None,
                   track_id: np.ndarray | None = None) -> pd.DataFrame:
    """One row per particle with hits (noise excluded): particle_id, nhits, weight, weighted,
    n_layers, disk (a hit on an endcap disk); with vertices (:func:`has_vertices`) pt and eta at
    production, vertex_r, primary, focused, endcap, low_pt; with ``track_id`` (one per truth row), found. The sets and found
    are the module docstring's."""
    pid = truth.particle_id.to_numpy()
    h = pd.DataFrame({"particle_id": pid, "weight": truth.weight.to_numpy(dtype=np.float64),
                      "volume_id": hits.volume_id.to_numpy(), "layer_id": hits.layer_id.to_numpy()})
    h = h[h.particle_id != 0]
    h["disk"] = ~h.volume_id.isin(BARREL_VOLUMES)
    g = h.groupby("particle_id")
    t = pd.DataFrame({"nhits": g.size(), "weight": g.weight.sum(),
                      "n_layers": h.drop_duplicates(["particle_id", "volume_id", "layer_id"])
                      .groupby("particle_id").size(),
                      "disk": g.disk.any()})
    t["weighted"] = t.weight > 0
    if has_vertices(particles):
        p = particles.drop_duplicates("particle_id").set_index("particle_id").reindex(t.index)
        pt = np.hypot(p.px.to_numpy(float), p.py.to_numpy(float))
        with np.errstate(divide="ignore", invalid="ignore"):
            t["pt"] = pt
            t["eta"] = np.arcsinh(p.pz.to_numpy(float) / pt)
        t["vertex_r"] = np.hypot(p.vx.to_numpy(float), p.vy.to_numpy(float))
        t["primary"] = (t.vertex_r <= MAX_VERTEX_R).to_numpy()
        trackable = t.primary & (t.n_layers >= MIN_LAYERS)
        t["focused"] = trackable & (t.pt >= FOCUSED_MIN_PT)
        t["endcap"] = t.focused & t.disk
        t["low_pt"] = trackable & (t.pt >= LOW_PT_BAND[0]) & (t.pt < LOW_PT_BAND[1])
    if track_id is not None:
        t["found"] = t.index.isin(matched_particles(track_id, pid))
    return t.reset_index()


def focused_particles(hits: pd.DataFrame, truth: pd.DataFrame, particles: pd.DataFrame,
                      min_pt: float = FOCUSED_MIN_PT, max_vertex_r: float = MAX_VERTEX_R,
                      min_layers: int = MIN_LAYERS) -> pd.DataFrame:
    """The focused particles (module docstring; other cuts for studies): particle_id, pt, eta,
    vz, n_layers and ``endcap`` (a hit on a disk), one row each."""
    t = particle_table(hits, truth, particles)
    t = t[(t.pt >= min_pt) & (t.vertex_r <= max_vertex_r) & (t.n_layers >= min_layers)]
    vz = particles.drop_duplicates("particle_id").set_index("particle_id").vz
    return pd.DataFrame({"particle_id": t.particle_id.to_numpy(), "pt": t.pt.to_numpy(),
                         "eta": t.eta.to_numpy(), "vz": vz.reindex(t.particle_id).to_numpy(),
                         "n_layers": t.n_layers.to_numpy(), "endcap": t.disk.to_numpy()})


def matched_particles(track_id, particle_id) -> np.ndarray:
    """Particles a track matches (> 50 % of the track's hits, > 50 % of the particle's hits)."""
    track_id, particle_id = np.asarray(track_id), np.asarray(particle_id)
    on_track = track_id != 0
    maj = majority(track_id[on_track], particle_id[on_track], np.ones(on_track.sum()))
    pn = pd.Series(particle_id).value_counts().loc[maj.particle_id].to_numpy()
    good = (maj.n / maj.nhits > 0.5).to_numpy() & (maj.n.to_numpy() / pn > 0.5)
    return np.unique(maj.particle_id.to_numpy()[good & (maj.particle_id.to_numpy() != 0)])


def track_table(track_id, particle_id) -> pd.DataFrame:
    """One row per track (module docstring: >= 3 hits, id not 0): track_id, nhits, its most
    frequent particle (``particle_id``, smallest id among ties) and that particle's hits ``n``,
    and ``fake``."""
    track_id, particle_id = np.asarray(track_id), np.asarray(particle_id)
    on_track = track_id != 0
    maj = majority(track_id[on_track], particle_id[on_track], np.ones(on_track.sum()))
    maj = maj[maj.nhits >= MIN_TRACK_HITS]
    fake = ~((maj.n / maj.nhits > 0.5) & (maj.particle_id != 0))
    return pd.DataFrame({"track_id": maj.track_id.to_numpy(), "nhits": maj.nhits.to_numpy(),
                         "particle_id": maj.particle_id.to_numpy(), "n": maj.n.to_numpy(),
                         "fake": fake.to_numpy()})


def track_rates(track_id, particle_id, focused_found: np.ndarray | None = None) -> dict:
    """tracks, fake tracks and rate; with ``focused_found`` (ids of the found focused particles)
    duplicate tracks and rate (module docstring)."""
    tracks = track_table(track_id, particle_id)
    n = len(tracks)
    out = {"tracks": n, "fake_tracks": int(tracks.fake.sum()),
           "fake_rate": _rate(int(tracks.fake.sum()), n)}
    if focused_found is not None:
        own = tracks.particle_id[~tracks.fake.to_numpy() & tracks.particle_id.isin(focused_found)]
        dup = int(len(own) - own.nunique())
        out |= {"duplicate_tracks": dup, "duplicate_rate": _rate(dup, n)}
    return out


#: The particle sets with an efficiency, in the order they are printed.
EFFICIENCY_SETS = ("focused", "endcap", "low_pt")


def particle_rates(parts: pd.DataFrame, truth: pd.DataFrame) -> dict:
    """Per set of :data:`EFFICIENCY_SETS`: particles, found, efficiency; and the oracle score."""
    out = {}
    for name in EFFICIENCY_SETS:
        sel = parts[name].to_numpy()
        k, n = int((parts.found.to_numpy() & sel).sum()), int(sel.sum())
        out |= {f"{name}_particles": n, f"{name}_found": k, f"{name}_efficiency": _rate(k, n)}
    pid, hid, w = truth.particle_id.to_numpy(), truth.hit_id.to_numpy(), truth.weight.to_numpy()
    focused = parts.particle_id.to_numpy()[parts.focused.to_numpy()]
    out["oracle_score"] = trackml_score(hid, pid, w, hid, np.where(np.isin(pid, focused), pid, 0))
    return out


def submission_doublets(hit_id, r, track_id) -> np.ndarray:
    """Consecutive hits (by radius) of every track of a submission, as (n, 2) hit ids."""
    df = pd.DataFrame({"hit_id": hit_id, "r": r, "t": track_id})
    df = df[df.t != 0].sort_values(["t", "r"], kind="stable")
    h, t = df.hit_id.to_numpy(), df.t.to_numpy()
    same = t[1:] == t[:-1]
    return np.stack([h[:-1][same], h[1:][same]], axis=1)


def score_submission(hits: pd.DataFrame, truth: pd.DataFrame, submission: pd.DataFrame,
                     source: str = "submission", particles: pd.DataFrame | None = None) -> dict:
    """All scores of a TrackML submission (columns ``hit_id, track_id``) against truth.

    ``source`` names the submission (its file) in error messages.
    """
    for col in ("hit_id", "track_id"):
        if col not in submission.columns:
            raise InputError(f"{source}: missing column {col}; expected hit_id,track_id")
    track_id = align(truth.hit_id.to_numpy(), submission.hit_id.to_numpy(),
                     submission.track_id.to_numpy(), source)
    return score_tracks(hits, truth, track_id, particles)


def score_tracks(hits: pd.DataFrame, truth: pd.DataFrame, track_id: np.ndarray,
                 particles: pd.DataFrame | None = None) -> dict:
    """All scores of ``track_id`` (one per row of ``truth``, whose rows match ``hits``); the sets
    beyond the weighted ones when ``particles`` has vertices (module docstring)."""
    r = np.hypot(hits.x.to_numpy(), hits.y.to_numpy())
    pid, w, hid = truth.particle_id.to_numpy(), truth.weight.to_numpy(), truth.hit_id.to_numpy()
    weighted, unweighted = true_doublets(hid, r, pid, w)
    out = {"trackml_score": trackml_score(hid, pid, w, hid, track_id)}
    out.update(doublet_scores(submission_doublets(hid, r, track_id), weighted, unweighted))
    found = None
    if has_vertices(particles):
        parts = particle_table(hits, truth, particles, track_id)
        out.update(particle_rates(parts, truth))
        found = parts.particle_id.to_numpy()[parts.focused.to_numpy() & parts.found.to_numpy()]
    out.update(track_rates(track_id, pid, found))
    return out
