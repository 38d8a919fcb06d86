"""Detector level: ACTS's generic detector (the TrackML geometry) and Fatras in a solenoid field.

Entry points: :func:`build_detector` (once per process) -> :class:`Detector`, whose
:meth:`Detector.simulate` takes the generator's :class:`~qtrack.simulate.generate.Particles` and
returns the sim hits (true crossing points) and the simulated particles, as arrays. ACTS is
driven directly, one algorithm call per event, without its sequencer: the event loop is qtrack's.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import SimulationConfig
from .generate import STREAM_FATRAS, Particles, stream

#: Readout pitches (mm, local u and v) of the generic detector's sub-detectors, as in ACTS's
#: generic-detector digitisation configuration; the smearing widths are pitch / sqrt(12).
PITCH = {7: (0.05, 0.05), 8: (0.05, 0.05), 9: (0.05, 0.05),
         12: (0.08, 1.2), 13: (0.08, 1.2), 14: (0.08, 1.2),
         16: (0.12, 10.8), 17: (0.12, 10.8), 18: (0.12, 10.8)}


def module_key(volume, layer, module) -> np.ndarray:
    return (np.asarray(volume, np.int64) << 32) | (np.asarray(layer, np.int64) << 16) | np.asarray(module, np.int64)


@dataclass
class Modules:
    """The sensitive modules, sorted by (volume, layer, module): TrackML's detectors.csv content."""

    volume: np.ndarray
    layer: np.ndarray
    module: np.ndarray
    center: np.ndarray  # (n, 3) mm
    rotation: np.ndarray  # (n, 3, 3) local (u, v, w) -> global (x, y, z)
    thickness: np.ndarray
    minhu: np.ndarray  # half-width in u at v = -hv (trapezoids) ...
    maxhu: np.ndarray  # ... and at v = +hv; equal for rectangles
    hv: np.ndarray  # half-length in v
    pitch_u: np.ndarray
    pitch_v: np.ndarray

    def __len__(self) -> int:
        return len(self.volume)

    def index(self, volume, layer, module) -> np.ndarray:
        """Row of each (volume, layer, module)."""
        keys = module_key(self.volume, self.layer, self.module)
        return np.searchsorted(keys, module_key(volume, layer, module))

    def half_width(self, rows: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Half-width in u of module ``rows`` at local ``v``."""
        t = (v / self.hv[rows] + 1.0) / 2.0
        return self.minhu[rows] + t * (self.maxhu[rows] - self.minhu[rows])


@dataclass
class SimHits:
    """Fatras hits: where a particle crossed a sensitive module, before digitisation."""

    module: np.ndarray  # row in Modules
    pos: np.ndarray  # (n, 3) true crossing point, mm
    p: np.ndarray  # (n, 3) momentum before the crossing, GeV
    barcode: np.ndarray  # (n, 5) vertex primary, vertex secondary, particle, generation, sub-particle
    order: np.ndarray  # index of the hit along its particle's path


@dataclass
class SimParticles:
    """Charged particles after Fatras (primaries and the secondaries it created)."""

    barcode: np.ndarray  # (n, 5) as in SimHits
    pos: np.ndarray  # (n, 3) production vertex, mm
    p: np.ndarray  # (n, 3) initial momentum, GeV
    charge: np.ndarray  # int64


def generic_detector(bfield_tesla: float):
    """ACTS's GenericDetector (the TrackML geometry) with quiet logs, its tracking geometry and a
    solenoid field along z: what the simulation and the ACTS reconstruction both stand on."""
    import acts
    import acts.examples as ae

    level = acts.logging.WARNING
    cfg = ae.GenericDetector.Config()
    cfg.logLevel = cfg.layerLogLevel = cfg.surfaceLogLevel = cfg.volumeLogLevel = level
    detector = ae.GenericDetector(cfg)
    field = acts.ConstantBField(acts.Vector3(0.0, 0.0, bfield_tesla * acts.UnitConstants.T))
    return detector, detector.trackingGeometry(), field


def whiteboard_board(name: str, handles: dict):
    """An ACTS algorithm that only owns whiteboard handles, to put data in and take results out
    around a sequence of algorithms run by hand. ``handles``: attribute -> (``"write"`` or
    ``"read"``, the data type, the handle's name, the whiteboard key)."""
    import acts
    import acts.examples as ae

    class Board(ae.IAlgorithm):
        def __init__(board):
            super().__init__(name=name, level=acts.logging.WARNING)
            for attr, (way, kind, handle_name, key) in handles.items():
                make = ae.WriteDataHandle if way == "write" else ae.ReadDataHandle
                handle = make(board, kind, handle_name)
                handle.initialize(key)
                setattr(board, attr, handle)

        def execute(board, context):
            return ae.ProcessCode.SUCCESS

    return Board()


class Detector:
    """The generic detector, its field and its module table; reused for every event of a process."""

    def __init__(self, cfg: SimulationConfig):
        import acts
        import acts.examples as ae

        self._acts, self._ae = acts, ae
        self.cfg = cfg
        self._detector, self.geometry, self.field = generic_detector(cfg.bfield)
        bounds = self.geometry.highestTrackingVolume.volumeBounds.values()
        self.world_r, self.world_z = bounds[1], bounds[2]
        self.modules = self._module_table()

        self._board = whiteboard_board("qtrack", {
            "particles_in": ("write", ae.SimParticleContainer, "ParticlesIn", "particles_generated"),
            "hits_out": ("read", ae.SimHitContainer, "SimHits", "simhits"),
            "particles_out": ("read", ae.SimParticleContainer, "ParticlesOut", "particles_simulated"),
        })

    def _module_table(self) -> Modules:
        gctx = self._detector.nominalGeometryContext()
        surfaces = []
        self.geometry.visitSurfaces(surfaces.append)
        n = len(surfaces)
        ids = np.empty((n, 3), np.int64)
        center = np.empty((n, 3))
        rotation = np.empty((n, 3, 3))
        thickness = np.empty(n)
        half = np.empty((n, 3))
        for i, s in enumerate(surfaces):
            g = s.geometryId
            ids[i] = (g.volume, g.layer, g.sensitive)
            transform = s.localToGlobalTransform(gctx)
            center[i] = np.asarray(transform.translation)
            r = transform.rotation
            rotation[i] = [[r[j, k] for k in range(3)] for j in range(3)]
            thickness[i] = s.thickness
            values = s.bounds.values()
            if type(s.bounds).__name__ == "RectangleBounds":  # (min x, min y, max x, max y), centred
                half[i] = (values[2], values[2], values[3])
            else:  # trapezoid: (half x at -y, half x at +y, half y, rotation angle = 0)
                half[i] = values[:3]
        order = np.lexsort((ids[:, 2], ids[:, 1], ids[:, 0]))
        ids, center, rotation, thickness, half = ids[order], center[order], rotation[order], thickness[order], half[order]
        pitch = np.array([PITCH[v] for v in ids[:, 0]])
        return Modules(volume=ids[:, 0], layer=ids[:, 1], module=ids[:, 2], center=center, rotation=rotation,
                       thickness=thickness, minhu=half[:, 0], maxhu=half[:, 1], hv=half[:, 2],
                       pitch_u=pitch[:, 0], pitch_v=pitch[:, 1])

    def simulate(self, particles: Particles, event: int) -> tuple[SimHits, SimParticles]:
        """Propagate the particles through the detector with Fatras; seeded by (seed, event)."""
        acts, ae = self._acts, self._ae
        u = acts.UnitConstants
        # Particles made outside the detector (long-lived decays far out) have no start volume.
        inside = (np.hypot(particles.pos[:, 0], particles.pos[:, 1]) < self.world_r) & (
            np.abs(particles.pos[:, 2]) < self.world_z)
        container = ae.SimParticleContainer()
        p_abs = np.linalg.norm(particles.p, axis=1)
        for i in np.flatnonzero(inside):
            barcode = ae.SimBarcode()
            barcode.vertexPrimary = int(particles.vertex[i])
            barcode.particle = int(particles.index[i])
            sim = ae.SimParticle(barcode, acts.PdgParticle(int(particles.pdg[i])),
                                 float(particles.charge[i]) * u.e, float(particles.mass[i]) * u.GeV)
            x, y, z, t = particles.pos[i]
            sim.fourPosition = acts.Vector4(x * u.mm, y * u.mm, z * u.mm, t * u.mm)
            px, py, pz = particles.p[i] / p_abs[i]
            sim.direction = acts.Vector3(px, py, pz)
            sim.absoluteMomentum = float(p_abs[i]) * u.GeV
            container.insert(sim)

        seed = int(stream(self.cfg, event, STREAM_FATRAS).generate_state(1, np.uint64)[0])
        fatras = ae.FatrasSimulation(
            level=acts.logging.FATAL, inputParticles="particles_generated",
            outputParticles="particles_simulated", outputSimHits="simhits",
            randomNumbers=ae.RandomNumbers(seed=seed), trackingGeometry=self.geometry,
            magneticField=self.field, generateHitsOnSensitive=True, emScattering=True,
            emEnergyLossIonisation=True, emEnergyLossRadiation=True, emPhotonConversion=True,
            # Fatras skips particles below pMin (default 0.5 GeV); TrackML keeps pT > 0.1 GeV.
            pMin=self.cfg.min_pt * u.GeV)
        board = ae.WhiteBoard(acts.logging.WARNING)
        context = ae.AlgorithmContext(0, event, board, 0)
        self._board.particles_in(context, container)
        fatras.internalExecute(context)
        return self._hits(self._board.hits_out(board)), self._particles(self._board.particles_out(board))

    def _hits(self, container) -> SimHits:
        u = self._acts.UnitConstants
        rows = []
        for h in container:
            g, b, x, p = h.geometryId, h.particleId, h.fourPosition, h.momentum4Before
            rows.append((g.volume, g.layer, g.sensitive, b.vertexPrimary, b.vertexSecondary, b.particle,
                         b.generation, b.subParticle, h.index, x[0], x[1], x[2], p[0], p[1], p[2]))
        a = np.array(rows, dtype=np.float64).reshape(-1, 15)
        ids = a[:, :9].astype(np.int64)
        return SimHits(module=self.modules.index(ids[:, 0], ids[:, 1], ids[:, 2]), barcode=ids[:, 3:8],
                       order=ids[:, 8], pos=a[:, 9:12] / u.mm, p=a[:, 12:15] / u.GeV)

    def _particles(self, container) -> SimParticles:
        u = self._acts.UnitConstants
        rows = []
        for sp in container:
            state = sp.initialState
            if state.charge == 0:
                continue
            b = sp.particleId
            x, p = state.fourPosition, state.fourMomentum
            rows.append((b.vertexPrimary, b.vertexSecondary, b.particle, b.generation, b.subParticle,
                         round(state.charge / u.e), x[0], x[1], x[2], p[0], p[1], p[2]))
        a = np.array(rows, dtype=np.float64).reshape(-1, 12)
        return SimParticles(barcode=a[:, :5].astype(np.int64), charge=a[:, 5].astype(np.int64),
                            pos=a[:, 6:9] / u.mm, p=a[:, 9:12] / u.GeV)


def build_detector(cfg: SimulationConfig) -> Detector:
    return Detector(cfg)
