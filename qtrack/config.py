"""Every knob of the pipeline, one frozen dataclass per stage.

Defaults reproduce the reference model (hepqpr-qallse ``QallseMp`` with its ``Config1GeV`` cuts)
where the reference has a knob; doublet seeding is qtrack's own. A TOML file overrides any field:

.. code-block:: toml

    [doublets]
    min_pt = 0.8
    [model]
    use_d0_weights = true
    [solve]
    num_reads = 20
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError
from .sections import COUNT, FRACTION, NON_NEGATIVE, POSITIVE, Section, between, merge, one_of


@dataclass(frozen=True)
class DoubletConfig(Section):
    """Seeding cuts: which hit pairs a track from the luminous region could make."""

    _section = "doublets"
    # Upper bounds: values no detector could use (a 100 GeV track is straight across the
    # tracker; solenoids stay below 10 T). The lowest pT is the TrackML weights' (0 below
    # 0.05 GeV), the same floor as ``passes.min_pts``'.
    _rules = {"max_layer_gap": between(1, 4), "min_pt": between(0.05, 100),
              "field_tesla": between(0, 10, lo_open=True),
              "phi_tolerance": between(0, 0.5), "eta_max": between(0, 6, lo_open=True)}

    #: Largest step in the layer graph between the two hits (2 = at most one missing layer).
    max_layer_gap: int = 2
    #: Minimum transverse momentum (GeV) the phi window must accept, at ``field_tesla``.
    min_pt: float = 0.75
    #: Magnetic field (T) along z.
    field_tesla: float = 2.0
    #: Extra phi tolerance (rad) on top of the curvature window (scattering, resolution).
    phi_tolerance: float = 0.01
    #: Largest |eta| of a doublet's direction: |cot theta| <= sinh(eta_max). The TrackML pixel
    #: disks reach |eta| 4.
    eta_max: float = 4.0


@dataclass(frozen=True)
class BeamSpotConfig(Section):
    """The luminous region: where tracks may come from. Every cut on it reads this section."""

    _section = "beamspot"
    # Luminous regions are a few hundred mm long at most (sigma_z 50-55 mm at the HL-LHC).
    _rules = {"z0_max": between(0, 1000), "doublet_z0_margin": between(0, 1000),
              "d0_max": between(0, 20), "triplet_d0_floor": between(0, 20)}

    #: Half-length (mm) of the luminous region: a track's straight-line fit in r-z must meet the
    #: beam line within it (0 = no check), and the D0 weights penalise triplets pointing beyond it.
    #: With ``estimate`` it is the upper bound of the estimate. 200 mm is 4 sigma of the widest
    #: vertex spread expected (HL-LHC-like and TrackML Codalab events: sigma_z 50-55 mm).
    z0_max: float = 200.0
    #: Estimate the half-length from the event (:mod:`qtrack.model.beamspot`): narrow luminous
    #: regions (TrackML event 1000: sigma_z about 8 mm) then get narrow windows, wide ones wide.
    estimate: bool = True
    #: The doublet window is ``z0_max`` plus this (mm): a doublet's line, from two hits far from
    #: the beam line, meets it less precisely than a track's fit.
    doublet_z0_margin: float = 50.0
    #: Largest transverse impact parameter (mm) the phi window allows for: a track passing d0
    #: from the beam line turns by about d0 * (1/r_in - 1/r_out) more, which matters in the pixels.
    #: Off by default: 2.5 mm recovers a few displaced pixel doublets (true-doublet recall 98.8 ->
    #: 99.1 % on the second 0.2 sample) but makes 50 % more doublets and a 30 % larger QUBO at
    #: full density, with lower purity (measured with a 200 mm doublet window).
    d0_max: float = 0.0
    #: Passes after the first look for tracks from the beam line: a triplet's circle must pass
    #: within this (mm) plus ``model.curvature_sigmas`` standard deviations of its measurement
    #: (resolution, scattering: :func:`qtrack.model.triplets.d0_sigma`) of it. Primaries are
    #: particles made within 10 mm of the beam line; 95 % are made within 0.03 mm (the luminous
    #: region) and the rest by b and c hadron decays a few mm out (measured on ``qtrack simulate``
    #: ttbar events: 99 % within 4.4 mm); 1 mm keeps 99 % of their true triplets.
    triplet_d0_floor: float = 1.0


@dataclass(frozen=True)
class ModelConfig(Section):
    """Triplet and quadruplet cuts and QUBO weights (names follow the reference's config)."""

    _section = "model"
    # Curvatures (1/mm) above 0.1 are circles of radius < 10 mm, that reach no layer; angle
    # differences (rad) beyond pi are none.
    _rules = {"tplet_max_curv": between(0, 0.1, lo_open=True), "curvature_sigmas": between(0, 10),
              "tplet_max_drz": between(0, 3.14, lo_open=True),
              "tplet_drz_floor": between(0, 3.14),
              "qplet_max_dcurv": between(0, 0.1),
              "layer_radiation_length": between(0, 0.5), "qplet_max_strength": between(None, 0),
              "num_multiplier": (lambda v: v < 0, "< 0 (quadruplet couplers are negative)"),
              "xy_relative_strength": FRACTION, "xy_power": POSITIVE, "rz_power": POSITIVE,
              "volayer_power": NON_NEGATIVE, "min_qplet_path": NON_NEGATIVE,
              "conflict_strength": POSITIVE, "d0_factor": NON_NEGATIVE, "d0_denom": POSITIVE,
              "z0_factor": NON_NEGATIVE, "z0_denom": POSITIVE}

    #: Largest layer span of a triplet is ``max_layer_gap + 1`` of the doublets' config.
    #: Curvature cut (1/mm); raised to the curvature of a ``doublets.min_pt`` track when that is
    #: larger (8e-4 is 0.75 GeV at 2 T, the default ``min_pt``).
    tplet_max_curv: float = 8e-4
    #: Standard deviations of the measured curvature (from the hits' r-phi resolution) that the
    #: curvature cuts allow on top of ``tplet_max_curv`` and ``qplet_max_dcurv`` (0 = the
    #: reference's fixed cuts). Matters on the pixel disks, where a forward track's hits lie a few
    #: mm apart across the beam and its curvature is barely measured.
    curvature_sigmas: float = 3.0
    tplet_max_drz: float = 0.1
    #: Second R-Z cut, measured along the helix (:func:`qtrack.model.triplets.helix_drz_excess`):
    #: the angle difference may exceed ``curvature_sigmas`` standard deviations of its
    #: measurement by at most this (rad), for multiple scattering (0 = no such cut).
    tplet_drz_floor: float = 0.02
    #: Floor (1/mm) under the curvature difference two triplets of a quadruplet may have; above
    #: it they may differ by ``curvature_sigmas`` standard deviations of the hits' resolution and
    #: the scattering (0 = no floor; with ``curvature_sigmas = 0`` this is the cut). The
    #: reference's 1e-4 is above 3 sigma for most high-pT tracks; with the full material's
    #: scattering those sigmas fit the true quadruplets (median pull 0.6-0.7, PU60), and without the
    #: floor PU200 scored 0.7550 against 0.7481 (seed 1) and 0.7538 against 0.7448 (seed 2),
    #: fakes 3.6 % and 3.2 %, while the barrel datasets stay above the reference (union 0.9820
    #: against 0.9823).
    qplet_max_dcurv: float = 0.0
    #: Material of every layer (radiation lengths at normal incidence) for the scattering
    #: allowance of the curvature and R-Z cuts (:mod:`qtrack.model.scattering`; 0 = the sensors'
    #: silicon alone, from ``detectors.csv``'s ``module_t``). The sensors are 0.16-0.37 % X0;
    #: the curvature differences of true consecutive triplets in ``qtrack simulate`` events (ACTS
    #: generic detector) are 3.9-4.7 times wider (68 % quantile, 0.1-1 GeV primaries) than the
    #: Highland formula gives for the silicon alone, i.e. about 16 x 0.16 % = 2.5 % X0 per
    #: layer with supports and services, as in the LHC trackers (1.5-3 % X0 per pixel layer).
    layer_radiation_length: float = 0.025
    qplet_max_strength: float = -0.2
    num_multiplier: float = -1.0
    xy_relative_strength: float = 0.5
    xy_power: float = 1.0
    rz_power: float = 1.0
    volayer_power: float = 2.0
    #: Quadruplets are kept only on a chain of at least this many quadruplets ("max path").
    min_qplet_path: int = 2
    #: Coupler between two conflicting triplets.
    conflict_strength: float = 1.0
    #: Constant linear weight of every triplet (reference: 0).
    bias_weight: float = 0.0
    #: Linear weights from the triplet's impact parameters (the reference's QallseD0 model).
    use_d0_weights: bool = False
    d0_factor: float = 0.5
    d0_denom: float = 1.0
    z0_factor: float = 0.2
    z0_denom: float = 0.5


@dataclass(frozen=True)
class SolveConfig(Section):
    """Sampler settings.

    Every connected component keeps its own best read, so reads pay while components are small:
    with 8 reads of 60 sweeps, the components of up to a few thousand variables reach lower
    energies than with 4 reads of 250 sweeps (the reference ran 10 reads of 1000) in 60 % of the
    time, on all three passes of a pile-up 200 event. The TrackML scores are the same: identical
    medians over seeds 1-3 on every barrel dataset but the 0.2 and 0.5 ones (+0.22 and -0.09
    points) and within 0.0012 on two pile-up 60 events (seed 1 each). The few giant components
    of pile-up 200 anneal differently (``large_component``).
    """

    _section = "solve"
    _rules = {"num_reads": between(1, 100_000), "num_sweeps": between(1, 10_000_000),
              "seed": between(0, 2**63 - 1), "threads": between(1, 256),
              "large_component": between(1, 10**9), "large_num_reads": between(1, 100_000),
              "large_num_sweeps": between(1, 10_000_000)}

    num_reads: int = 8
    num_sweeps: int = 60
    #: Annealers (samplers taking ``num_sweeps``) give a component of at least this many
    #: variables ``large_num_reads`` reads of ``large_num_sweeps`` sweeps instead: a best read
    #: gains nothing in a component that large, longer anneals do. The three passes of a pile-up
    #: 200 event (seed 1) hold one component of 110-136k variables each, beside components of at
    #: most 3,000. In the giant ones the best of 2 reads of 250 sweeps is within 0.1 % of one read
    #: (identical on two passes), while one read of 500 sweeps, in the same time, is 0.1-1.0 %
    #: lower. In the components below 1,000 variables it is the other way round: 4 reads of 250
    #: sweeps end lower than one of 1,000. At pile-up 60 there is at most one (12k variables on
    #: one pass of a seed-2 event; TrackML 0.7570 against 0.7566 before).
    large_component: int = 5000
    large_num_reads: int = 1
    large_num_sweeps: int = 500
    #: Seed of every random choice in solving; the same seed gives the same tracks in any process.
    seed: int = 1
    #: (hot, cold) inverse temperatures; ``None`` scales them to the couplings.
    beta_range: tuple[float, float] | None = None
    #: Threads of the model's kernels (doublets to couplers), and threads sampling at once for
    #: samplers that release the GIL (neal, steepest, sb, tabu). The reads are split into seeded
    #: calls in a fixed way and the kernels' outputs come in a fixed order, so the answer does not
    #: depend on this.
    threads: int = 2


@dataclass(frozen=True)
class SBConfig(Section):
    """Simulated bifurcation (``--sampler sb``), see :mod:`qtrack.samplers.sb`."""

    _section = "sb"
    _rules = {"num_steps": COUNT, "dt": between(0, 10, lo_open=True),
              "variant": one_of("discrete", "ballistic")}

    num_steps: int = 1000
    dt: float = 1.0
    #: "discrete" (dSB, better on tracking QUBOs) or "ballistic" (bSB).
    variant: str = "discrete"
    #: Greedy single-flip descent after each trajectory.
    polish: bool = True


@dataclass(frozen=True)
class QPUConfig(Section):
    """The D-Wave samplers (``qpu``, ``mock-qpu``, ``decomposed``, ``hybrid``), see
    :mod:`qtrack.samplers.dwave`. The one place their defaults live."""

    _section = "qpu"
    _rules = {"subproblem_size": between(2, 10_000), "num_reads": between(1, 10_000),
              "sweeps": COUNT, "partitions": between(1, 8),
              "initial_state": one_of("zeros", "descent", "anneal"), "loop_sweeps": COUNT,
              "loop_initial_state": one_of("zeros", "descent", "anneal"),
              "embedding": one_of("clique", "minorminer"),
              "embedding_timeout": POSITIVE, "time_limit": NON_NEGATIVE,
              "exact_max_variables": between(0, 16),
              "programming_time_us": NON_NEGATIVE, "anneal_time_us": NON_NEGATIVE,
              "readout_time_small_us": NON_NEGATIVE, "readout_time_large_us": NON_NEGATIVE,
              "delay_time_us": NON_NEGATIVE, "ice_sigma_h": between(0, 1),
              "ice_sigma_j": between(0, 1), "mock_num_sweeps": COUNT,
              "chain_strength_prefactor": POSITIVE,
              "mock_annealer": one_of("simulated", "path-integral")}

    #: Largest number of logical variables sent to the QPU in one call. With clique embeddings
    #: on Pegasus P16 the chains grow with it (5 qubits at 40, 11 at 100), and the mock's
    #: annealer finds 88% of a block's energy at 40 but 34% at 100 (blocks of a PU60 QUBO,
    #: against simulated annealing on the logical block; see the README's "Running on D-Wave").
    subproblem_size: int = 40
    #: Reads of every QPU call.
    num_reads: int = 100
    #: Block-descent sweeps over a split component (qpu, mock-qpu).
    sweeps: int = 6
    #: Block layouts with offset boundaries, visited in turn (qpu, mock-qpu).
    partitions: int = 3
    #: Start of the descent: "zeros", "descent" (steepest descent) or "anneal" (a short
    #: simulated anneal) (qpu, mock-qpu).
    initial_state: str = "zeros"
    #: Loop iterations per block of a large component (decomposed).
    loop_sweeps: int = 2
    #: Start of the dwave-hybrid loop (decomposed).
    loop_initial_state: str = "anneal"
    #: Steepest descent on the logical problem after the QPU work (qpu, mock-qpu: once, on the
    #: whole problem, its energy before and after reported; decomposed: from every read).
    polish: bool = True
    #: "clique": one busclique clique embedding per sub-problem size, shared (fast plans,
    #: longer chains); "minorminer": a minorminer search per sub-problem graph.
    embedding: str = "clique"
    #: Chain strength: this times dwave-system's uniform torque compensation (whose own default
    #: prefactor is 1.414). A strong chain freezes the annealer: on 40-variable blocks of a PU60
    #: QUBO the mock finds 90% of the block's energy at 0.2, 88% at 0.25, 79% at 0.35.
    chain_strength_prefactor: float = 0.25
    #: Seconds one minorminer call may take before the sub-problem is halved.
    embedding_timeout: float = 60.0
    #: Fix variables by roof duality (dwave-preprocessing) before any QPU call.
    roof_duality: bool = True
    #: Solve components of at most this many variables exactly, by enumeration (0: none).
    exact_max_variables: int = 12
    #: QPU access-time model (microseconds), from D-Wave's "Operation and Timing" documentation:
    #: programming time (typically 10-20 ms; 15.9 ms in its example) once per call, then per
    #: read the anneal (default annealing_time 20 us), the readout (25 us for a dozen qubits to
    #: 150 us for thousands, interpolated log-log on the qubits used) and the delay (~21 us).
    programming_time_us: float = 15_936.0
    anneal_time_us: float = 20.0
    readout_time_small_us: float = 25.0
    readout_time_large_us: float = 150.0
    delay_time_us: float = 21.0
    #: mock-qpu: integrated control errors, Gaussian noise on every call's h and J.
    control_errors: bool = False
    #: Their standard deviations, in units of the QPU's J range (h and J of the embedded problem
    #: scaled as the QPU scales them): D-Wave's ICE documentation shows sigma(delta h) of
    #: 0.010-0.025 and sigma(delta J) of 0.010-0.016 over the anneal.
    ice_sigma_h: float = 0.02
    ice_sigma_j: float = 0.015
    #: The mock QPU's stand-in on the embedded problem: "simulated" annealing, or
    #: "path-integral" Monte Carlo of a transverse-field anneal (a simulated quantum annealer),
    #: both from dwave-samplers.
    mock_annealer: str = "simulated"
    #: Sweeps the mock QPU's stand-in spends per read on the embedded problem.
    mock_num_sweeps: int = 200
    #: Leap hybrid time limit in seconds (hybrid); 0 = the solver's minimum.
    time_limit: float = 0.0


@dataclass(frozen=True)
class TrackConfig(Section):
    """Merging selected triplets into tracks."""

    _section = "tracks"
    # A particle leaves at most about 20 hits (TrackML, double hits included): 30 bounds every
    # hit count; distances (mm) beyond a metre are the size of the detector.
    _rules = {"min_hits": between(3, 30), "double_hit_max_along": between(0, 1000),
              "merge_fraction": between(0, 1, lo_open=True), "max_rz_chi2": NON_NEGATIVE,
              "min_line_hits": between(4, 30), "strip_min_line_hits": between(4, 30),
              "rz_chi2_floor": between(0, 100, lo_open=True), "holed_min_hits": between(0, 30),
              "holed_max_xy_rms": between(0, 1000)}

    min_hits: int = 5
    #: Give every track the hits on the overlapping modules of its layers (double hits: a quarter
    #: of a particle's hits in TrackML) (:func:`qtrack.double_hits.collect_double_hits`).
    double_hits: bool = True
    #: How far (mm) along the track from its hit on the same layer a double hit may lie.
    double_hit_max_along: float = 40.0
    #: Before that, a track at least this fraction of whose hits are double hits of one longer
    #: track is merged into it (:func:`qtrack.double_hits.merge_parallel_tracks`).
    merge_fraction: float = 0.5
    #: Join two tracks of one helix, one starting where the other ends (:mod:`qtrack.fragments`).
    merge_fragments: bool = True
    #: ... and a hit on no track joined as a one-hit fragment: at most one per track end.
    end_hits: bool = True
    #: Track-quality cut (:func:`qtrack.track_quality.quality_cut`): every track needs this many hits
    #: (4 or more) on one helix in r-z ...
    min_line_hits: int = 4
    #: ... a straight line z(arc length) with chi2 per degree of freedom at most this (0 = no cut).
    max_rz_chi2: float = 3.0
    #: Hits on that helix a track needs once in the strips (r > 200 mm): it crossed more layers
    #: than one in the pixels. At PU200 most other fakes are 5 hits, pixels to strips, 1 off it.
    strip_min_line_hits: int = 5
    #: Error (mm) added in quadrature to every hit's resolution in that fit (multiple scattering).
    rz_chi2_floor: float = 0.3
    #: A track whose line crosses two or more layers without a hit between the beam line and its
    #: first hit needs this many hits (0 = no such cut) ... (:func:`qtrack.track_quality.inner_holes`)
    holed_min_hits: int = 7
    #: ... or its hits within this RMS distance (mm) of one circle in x-y. At pile-up 200 most
    #: chance combinations are such short tracks, starting mid-detector with hits of several
    #: particles; a secondary particle's track starts mid-detector too, but on one circle.
    holed_max_xy_rms: float = 0.1


@dataclass(frozen=True)
class PassesConfig(Section):
    """Iterative tracking: more passes, each its own QUBO, over the hits earlier tracks left.

    The first pass is the model of the other sections (``doublets.min_pt``, primaries from the
    luminous region). Each further pass repeats it at a lower pT on the hits no track of an
    earlier pass took, so the confident high-pT tracks are settled before the dense low-pT
    combinatorics starts, and the later QUBOs hold fewer hits. Every track still comes from
    triplets a sampler selected. The passes' tracks are pooled before the double hits are
    collected.
    """

    _section = "passes"
    _rules = {"max_layer_gap": between(1, 4), "displaced_min_pt": between(0, 100),
              "soft_displaced_min_pt": between(0, 100), "soft_displaced_min_hits": between(3, 30),
              "handover_sigmas": between(0, 10), "displaced_d0_max": between(0, 20),
              "first_layer_radiation_length": between(0, 0.5)}

    #: pT thresholds (GeV) of the passes after the first, highest first; empty = one pass (the
    #: fast mode, ``--preset fast``). Each takes its particles before the next, wider search
    #: starts on fewer hits. 0.15 GeV reaches r = 2R = 500 mm (pixels, three strip layers), 0.1
    #: GeV 333 mm (pixels, one strip layer). Measured (``experiments/allpt_study.py``): PU200
    #: without the 0.4 GeV pass, the 0.15 GeV one had 482k variables, not 147k; the 0.1 GeV pass
    #: took PU60 seed 2 from 0.8199 to 0.8497 and PU200 seed 1 from 0.7847 to 0.8036; the 0.25
    #: GeV pass keeps PU400 (310k hits) at 9.2 GB, not 23, for 0.3 points at PU200.
    min_pts: tuple[float, ...] = (0.4, 0.25, 0.15, 0.1)
    #: The first pass too needs triplets pointing back to the beam line (secondaries: displaced).
    first_from_beam_line: bool = False
    #: X0 per layer the first pass's triplet cuts allow for (later: ``model.layer_radiation_length``).
    #: The silicon alone (0): PU200 QUBO of 231k variables, not 295k, same tracks. Its quadruplets
    #: and quality cuts take the full material (with the silicon alone, true quadruplets'
    #: curvature pulls were 1.4-2.5 at PU60, losing 3-7 % of them).
    first_layer_radiation_length: float = 0.0
    #: A pass's track bending more than its lowest pT by over this many standard deviations of
    #: its circle fit (:func:`qtrack.track_quality.curvature_excess`) is left to the later
    #: passes: the triplet cuts (3 sigma of three hits) keep a slightly softer particle's first
    #: triplets and cut the later ones, so its track would stop short. At 1 sigma PU60 seed 2
    #: scored 0.8199 (0.8144 at 2, 0.8069 at 3), PU200 seed 1 0.7847 (0.7828, 0.7749).
    handover_sigmas: float = 1.0
    #: ``doublets.max_layer_gap`` of the passes after the first.
    max_layer_gap: int = 2
    #: pT (GeV) of a pass for displaced particles (conversions, decays, hadronic interactions):
    #: no origin constraint (0 = none). From 0.2 GeV, 35 % of its PU200 tracks were fakes.
    displaced_min_pt: float = 0.3
    #: A last displaced pass down to this pT (0 = none; none without the first), its tracks with
    #: ``soft_displaced_min_hits`` hits: unconstrained, five-hit chance combinations are its fakes.
    #: 6: TrackML +0.3-0.6 points, fakes +0-0.4 % (PU60 s2, s3; PU140 s7, 19 % noise; PU200 s1).
    soft_displaced_min_pt: float = 0.2
    soft_displaced_min_hits: int = 6
    #: Largest transverse impact parameter (mm) the displaced pass's doublets allow for.
    displaced_d0_max: float = 20.0


#: Shipped configs, usable by name wherever a TOML file is (``--config fast``).
PRESETS = {p.stem: p for p in sorted((Path(__file__).parent / "presets").glob("*.toml"))}


@dataclass(frozen=True)
class Config:
    doublets: DoubletConfig = field(default_factory=DoubletConfig)
    beamspot: BeamSpotConfig = field(default_factory=BeamSpotConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    solve: SolveConfig = field(default_factory=SolveConfig)
    tracks: TrackConfig = field(default_factory=TrackConfig)
    sb: SBConfig = field(default_factory=SBConfig)
    qpu: QPUConfig = field(default_factory=QPUConfig)
    passes: PassesConfig = field(default_factory=PassesConfig)

    def replace(self, **sections) -> "Config":
        """Return a copy with some fields changed: ``cfg.replace(solve={"seed": 3})``."""
        return merge(self, sections, "config")

    def with_settings(self, **settings) -> "Config":
        """A copy with fields changed by their bare name, e.g. ``num_reads=8, min_pt=0.9``.

        A name found in several sections goes to the first of doublets, beamspot, model, solve, tracks,
        sb, qpu, passes (``num_reads`` is ``solve.num_reads``); use :meth:`replace` for the others.
        """
        if not settings:
            return self
        sections: dict[str, dict] = {}
        for key, value in settings.items():
            owners = [f.name for f in dataclasses.fields(self)
                      if key in {g.name for g in dataclasses.fields(getattr(self, f.name))}]
            if not owners:
                raise InputError(f"unknown setting {key!r}; expected a field of "
                                 f"qtrack.config.Config's sections")
            sections.setdefault(owners[0], {})[key] = value
        return self.replace(**sections)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str = "config") -> "Config":
        return merge(cls(), data, source)

    @classmethod
    def from_toml(cls, path: str | Path) -> "Config":
        """Settings from a TOML file, or the shipped preset of that name (``fast``: see
        :data:`PRESETS`) when no such file exists."""
        path = Path(path)
        if not path.exists() and str(path) in PRESETS:
            path = PRESETS[str(path)]
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise InputError(f"{path}: config file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{path}: not valid TOML ({exc})") from None
        return cls.from_dict(data, str(path))
