"""ACTS's own track reconstruction on TrackML hits, through pyacts: seeding, CKF, ambiguity resolution.

Entry point: :class:`ActsTracker` (built once per process, like qtrack's simulation detector) whose
:meth:`ActsTracker.reconstruct` takes an event's hits table and the module pitches and returns
:class:`ActsTracks`: the track of every hit after the CKF and after ACTS's greedy ambiguity
resolution, as TrackML submissions, and the wall time of each stage.

The chain is ACTS's generic-detector reconstruction as its developers configure it in
``Examples/Scripts/Python/full_chain_test.py`` (``--generic-detector``, ttbar with pile-up):

1. the hits become ACTS measurements on their modules: local (u, v) from the surface transform,
   variances pitch^2 / 12 from ``detectors.csv`` (the smearing qtrack's simulation applied);
2. space points on the pixel layers of ``Examples/Configs/generic-seeding-config.json``;
3. grid triplet seeding (``addSeeding``'s default, no truth) with ACTS's default settings, except
   the acceptance: |eta| < 4 (TrackML's) instead of 3 (see :attr:`ActsConfig.max_abs_eta`);
4. track parameters from the seeds (``TrackParamsEstimationAlgorithm``, the example's initial
   covariance);
5. the combinatorial Kalman filter (``TrackFindingAlgorithm``) with the example's measurement
   selection and track selection;
6. greedy ambiguity resolution (``GreedyAmbiguityResolutionAlgorithm``).

ACTS is driven directly, one ``internalExecute`` per algorithm per event on a fresh whiteboard,
without its sequencer: the event loop and its clock are the experiment's, as in
``qtrack/simulate/fatras.py``. Every track state that is a measurement gives its hit (the
measurement index is the hit's row); a hit on several tracks goes to the track with the most
measurements (ties: the earlier track), because a TrackML submission has one track per hit.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from qtrack.simulate.fatras import module_key

#: Layers whose hits make space points for the seeding: ACTS's
#: Examples/Configs/generic-seeding-config.json (all four pixel barrel layers, four disks of each
#: pixel endcap), as (volume_id, layer_id).
SEEDING_LAYERS = ((8, 2), (8, 4), (8, 6), (8, 8), (9, 2), (9, 4), (9, 6), (9, 8),
                  (7, 14), (7, 12), (7, 10), (7, 8))
STAGES = ("measurements", "spacepoints", "seeding", "parameters", "ckf", "ambiguity", "submission")


@dataclass(frozen=True)
class ActsConfig:
    """Settings of the chain; defaults are full_chain_test.py's for the generic detector (ttbar,
    pile-up). Lengths in mm, momenta in GeV, field in T."""

    bfield: float = 2.0
    #: Track parameter estimation: initial sigmas of loc0, loc1 (mm), phi, theta (degree), q/p
    #: (e/GeV; 0 = from initial_sigma_qoverpt and initial_sigma_pt_rel), time (ns).
    initial_sigmas: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 0.0, 1.0)
    initial_sigma_qoverpt: float = 0.1
    initial_sigma_pt_rel: float = 0.1
    #: CKF measurement selection: chi2 cut of a measurement, of an outlier, and how many of the
    #: compatible measurements on a surface branch the track.
    chi2_measurement: float = 15.0
    chi2_outlier: float = 25.0
    measurements_per_surface: int = 2
    #: Acceptance of the seeding (cot theta <= sinh) and of the track selection. The example cuts
    #: at 3.0 (seeding's default cot theta 10.02 and the track selection); TrackML's detector and
    #: qtrack's simulation reach 4.0 and a focused particle has no eta limit, so 4.0 here.
    max_abs_eta: float = 4.0
    #: Seeding's lowest pT (GeV); 0.4 is the example's (the seeding algorithm's default). ACTS
    #: needs the helix radius of that pT to be at least half the space points' largest radius
    #: (``seed_r_max``, mm; 600 by default): below 0.18 GeV lower it to the pixels' (200).
    seed_min_pt: float = 0.4
    seed_r_max: float = 600.0
    #: ACTS's log level. At low pT the CKF logs an ERROR line for every seed of a looper whose
    #: extrapolation leaves the detector (thousands per event); those seeds simply make no track.
    log_level: str = "WARNING"
    #: CKF track selection.
    min_pt: float = 0.5
    max_abs_d0: float = 4.0
    min_measurements: int = 7
    max_holes: int = 2
    max_outliers: int = 2
    #: Greedy ambiguity resolution.
    max_shared_hits: int = 3
    ambiguity_min_measurements: int = 7
    ambiguity_max_iterations: int = 1_000_000
    seeding_layers: tuple[tuple[int, int], ...] = SEEDING_LAYERS


@dataclass
class ActsTracks:
    """One event's result: track id per hit (0 = no track) after the CKF and after the ambiguity
    resolution, in the order of the hits table given, and counts and stage times (s)."""

    hit_id: np.ndarray
    ckf_track_id: np.ndarray
    track_id: np.ndarray
    timings: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)

    def submission(self, after_ambiguity: bool = True) -> pd.DataFrame:
        return pd.DataFrame({"hit_id": self.hit_id,
                             "track_id": self.track_id if after_ambiguity else self.ckf_track_id})


class ActsTracker:
    """The generic detector, the 2 T field and the configured ACTS algorithms, reused per event."""

    def __init__(self, cfg: ActsConfig = ActsConfig()):
        import acts
        import acts.examples as ae

        self._acts, self._ae, self.cfg = acts, ae, cfg
        u = acts.UnitConstants
        level = getattr(acts.logging, cfg.log_level)
        from qtrack.simulate.fatras import generic_detector, whiteboard_board

        self._detector, geometry, field = generic_detector(cfg.bfield)
        self.geometry = geometry
        self._surface_table()

        self._board = whiteboard_board("qtrack_acts", {
            "measurements": ("write", ae.MeasurementContainer, "Measurements", "measurements"),
            "stored": ("read", ae.MeasurementContainer, "StoredMeasurements", "measurements"),
            "subset": ("write", ae.MeasurementSubset, "MeasurementSubset", "measurement_subset"),
            "space_points": ("read", acts.SpacePointContainer, "SpacePoints", "spacepoints"),
            "seeds": ("read", acts.SeedContainer, "Seeds", "seeds"),
            "ckf_tracks": ("read", ae.ConstTrackContainer, "CkfTracks", "ckf_tracks"),
            "tracks": ("read", ae.ConstTrackContainer, "AmbiTracks", "ambi_tracks"),
        })
        selection = [acts.GeometryIdentifier(volume=v, layer=l) for v, l in cfg.seeding_layers]
        s = cfg.initial_sigmas
        track_selector = acts.TrackSelector.Config(
            ptMin=cfg.min_pt * u.GeV, absEtaMax=cfg.max_abs_eta, loc0Min=-cfg.max_abs_d0 * u.mm,
            loc0Max=cfg.max_abs_d0 * u.mm, minMeasurements=cfg.min_measurements,
            maxHoles=cfg.max_holes, maxOutliers=cfg.max_outliers)
        self._stages = [
            ("spacepoints", ae.SpacePointMaker(
                level=level, inputMeasurements="measurement_subset", outputSpacePoints="spacepoints",
                trackingGeometry=geometry, geometrySelection=selection)),
            ("seeding", ae.GridTripletSeedingAlgorithm(
                level=level, inputSpacePoints="spacepoints", outputSeeds="seeds",
                bFieldInZ=cfg.bfield * u.T, cotThetaMax=float(np.sinh(cfg.max_abs_eta)),
                minPt=cfg.seed_min_pt * u.GeV, rMax=cfg.seed_r_max * u.mm)),
            ("parameters", ae.TrackParamsEstimationAlgorithm(
                level=level, inputSeeds="seeds", outputTrackParameters="estimatedparameters",
                outputSeeds="estimatedseeds", trackingGeometry=geometry, magneticField=field,
                initialSigmas=[s[0] * u.mm, s[1] * u.mm, s[2] * u.degree, s[3] * u.degree,
                               s[4] * u.e / u.GeV, s[5] * u.ns],
                initialSigmaQoverPt=cfg.initial_sigma_qoverpt * u.e / u.GeV,
                initialSigmaPtRel=cfg.initial_sigma_pt_rel, initialVarInflation=[1.0] * 6)),
            ("ckf", ae.TrackFindingAlgorithm(
                level=level,
                measurementSelectorCfg=acts.MeasurementSelector.Config(
                    [(acts.GeometryIdentifier(), ([], [cfg.chi2_measurement], [cfg.chi2_outlier],
                                                  [cfg.measurements_per_surface]))]),
                inputMeasurements="measurement_subset", inputInitialTrackParameters="estimatedparameters",
                inputSeeds="estimatedseeds", outputTracks="ckf_tracks",
                findTracks=ae.TrackFindingAlgorithm.makeTrackFinderFunction(geometry, field, level),
                findTracksBrem=ae.TrackFindingAlgorithm.makeBremTrackFinderFunction(geometry, field, level),
                trackingGeometry=geometry, magneticField=field, trackSelectorCfg=track_selector,
                twoWay=True, seedDeduplication=True, stayOnSeed=True)),
            ("ambiguity", ae.GreedyAmbiguityResolutionAlgorithm(
                level=level, inputTracks="ckf_tracks", outputTracks="ambi_tracks",
                maximumSharedHits=cfg.max_shared_hits, nMeasurementsMin=cfg.ambiguity_min_measurements,
                maximumIterations=cfg.ambiguity_max_iterations)),
        ]

    def _surface_table(self) -> None:
        """Key, centre, rotation and geometry identifier of every sensitive surface, by key."""
        gctx = self._detector.nominalGeometryContext()
        surfaces = []
        self.geometry.visitSurfaces(surfaces.append)
        keys = np.empty(len(surfaces), np.int64)
        center = np.empty((len(surfaces), 3))
        rotation = np.empty((len(surfaces), 3, 3))
        for i, s in enumerate(surfaces):
            g = s.geometryId
            keys[i] = module_key(g.volume, g.layer, g.sensitive)
            transform = s.localToGlobalTransform(gctx)
            center[i] = np.asarray(transform.translation)
            r = transform.rotation
            rotation[i] = [[r[j, k] for k in range(3)] for j in range(3)]
        order = np.argsort(keys)
        self._keys, self._center, self._rotation = keys[order], center[order], rotation[order]
        self._geometry_ids = [surfaces[i].geometryId for i in order]

    def local_coordinates(self, hits: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(surface row, local (u, v, w) in mm) of every hit; raises ValueError for hits on unknown
        modules or off their module's plane (w beyond 0.01 mm)."""
        key = module_key(hits.volume_id, hits.layer_id, hits.module_id)
        row = np.searchsorted(self._keys, key).clip(max=len(self._keys) - 1)
        unknown = self._keys[row] != key
        if unknown.any():
            h = hits.iloc[int(np.flatnonzero(unknown)[0])]
            raise ValueError(f"{int(unknown.sum())} hit(s) on modules the generic detector does not have, "
                             f"e.g. hit_id {int(h.hit_id)} on volume {int(h.volume_id)} layer "
                             f"{int(h.layer_id)} module {int(h.module_id)}")
        pos = hits[["x", "y", "z"]].to_numpy(np.float64)
        local = np.einsum("nji,nj->ni", self._rotation[row], pos - self._center[row])
        off = np.abs(local[:, 2]) > 0.01
        if off.any():
            raise ValueError(f"{int(off.sum())} hit(s) more than 0.01 mm off their module's plane, e.g. "
                             f"hit_id {int(hits.hit_id.iloc[int(np.flatnonzero(off)[0])])}: not the "
                             "generic detector's geometry")
        return row, local

    def reconstruct(self, hits: pd.DataFrame, pitch: np.ndarray) -> ActsTracks:
        """Tracks of one event. ``hits``: TrackML hits (hit_id, x, y, z, volume_id, layer_id,
        module_id); ``pitch``: (n, 2) readout pitch (u, v) in mm of each hit's module."""
        ae = self._ae
        timings: dict[str, float] = {}
        t = time.perf_counter()
        row, local = self.local_coordinates(hits)
        variance = np.asarray(pitch, np.float64) ** 2 / 12.0
        container = ae.MeasurementContainer()
        container.reserve(len(hits))
        ids, emplace = self._geometry_ids, container.emplaceMeasurement
        for r, u_, v_, vu, vv in zip(row.tolist(), local[:, 0].tolist(), local[:, 1].tolist(),
                                     variance[:, 0].tolist(), variance[:, 1].tolist()):
            emplace(ids[r], [0, 1], [u_, v_], [vu, vv])
        board = ae.WhiteBoard(self._acts.logging.WARNING)
        context = ae.AlgorithmContext(0, 0, board, 0)
        # The whiteboard takes the container over (moves it); the subset must point at that copy.
        self._board.measurements(context, container)
        self._board.subset(context, ae.MeasurementSubset(self._board.stored(board), range(len(hits))))
        timings["measurements"] = time.perf_counter() - t
        for name, algorithm in self._stages:
            t = time.perf_counter()
            code = algorithm.internalExecute(context)
            if code != ae.ProcessCode.SUCCESS:
                raise RuntimeError(f"ACTS {name} stage returned {code}")
            timings[name] = time.perf_counter() - t
        t = time.perf_counter()
        ckf, ckf_n = self._track_of_hit(self._board.ckf_tracks(board), len(hits))
        final, final_n = self._track_of_hit(self._board.tracks(board), len(hits))
        timings["submission"] = time.perf_counter() - t
        counts = {"hits": len(hits), "space_points": len(self._board.space_points(board)),
                  "seeds": len(self._board.seeds(board)), "ckf_tracks": ckf_n, "tracks": final_n}
        return ActsTracks(hit_id=hits.hit_id.to_numpy(), ckf_track_id=ckf, track_id=final,
                          timings=timings, counts=counts)

    def _track_of_hit(self, tracks, n_hits: int) -> tuple[np.ndarray, int]:
        """Track id (1-based track index) of every hit; a shared hit goes to the longest track."""
        from_source_link = self._ae.IndexSourceLink.fromSourceLink
        track, measurement = [], []
        n_tracks = 0
        for k, proxy in enumerate(tracks):
            n_tracks += 1
            # the ambiguity resolution's output tracks have no stem index: walk from the tip
            for state in proxy.trackStatesReversed:
                if state.typeFlags.isMeasurement and state.hasUncalibratedSourceLink:
                    track.append(k)
                    measurement.append(from_source_link(state.uncalibratedSourceLink).index())
        track_id = np.zeros(n_hits, np.int64)
        if not track:
            return track_id, n_tracks
        track, measurement = np.asarray(track), np.asarray(measurement)
        length = np.bincount(track)[track]
        order = np.lexsort((track, -length))  # longest track first, then the earlier one
        first = np.unique(measurement[order], return_index=True)[1]
        track_id[measurement[order][first]] = track[order][first] + 1
        return track_id, n_tracks
