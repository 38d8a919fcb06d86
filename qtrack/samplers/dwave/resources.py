"""What the hardware was asked for: sub-problems, qubits, chains, QPU time, and what it would
cost: the QPU access-time model and Leap hybrid's minimum time limit."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: Readout-time model: the readout of a read takes ``readout_time_small_us`` for this many qubits
#: and ``readout_time_large_us`` for ``_READOUT_LARGE`` ("a dozen" and "several thousand" qubits
#: in D-Wave's timing documentation), log-log in between and constant outside.
_READOUT_SMALL = 12
_READOUT_LARGE = 5000
#: ``minimum_time_limit`` of Leap's hybrid_binary_quadratic_model_version2 solver (pairs of
#: variables, seconds; the solver interpolates linearly): the values the solver reports in its
#: properties, as recorded in public client code. A live run uses the solver's own.
HYBRID_BQM_MIN_TIME_LIMIT = ((1, 3.0), (1024, 3.0), (4096, 10.0), (10000, 40.0),
                             (30000, 200.0), (100000, 600.0), (1000000, 600.0))


@dataclass(frozen=True)
class TimingModel:
    """QPU access time of one call: programming, then per read anneal + readout + delay."""

    programming_us: float
    anneal_us: float
    readout_small_us: float
    readout_large_us: float
    delay_us: float

    @classmethod
    def from_settings(cls, s: dict | None = None) -> "TimingModel":
        """From ``[qpu]``'s fields (a dict; default: the defaults of ``[qpu]``)."""
        if s is None:
            import dataclasses

            from ...config import QPUConfig

            s = dataclasses.asdict(QPUConfig())
        return cls(s["programming_time_us"], s["anneal_time_us"], s["readout_time_small_us"],
                   s["readout_time_large_us"], s["delay_time_us"])

    def readout_us(self, qubits: int) -> float:
        lo, hi = math.log10(_READOUT_SMALL), math.log10(_READOUT_LARGE)
        t = float(np.interp(math.log10(max(1, qubits)), [lo, hi],
                            [math.log10(max(self.readout_small_us, 1e-9)),
                             math.log10(max(self.readout_large_us, 1e-9))]))
        return 10**t if self.readout_small_us > 0 and self.readout_large_us > 0 else 0.0

    def call_us(self, qubits: int, num_reads: int) -> float:
        return self.programming_us + num_reads * (self.anneal_us + self.readout_us(qubits)
                                                   + self.delay_us)


def hybrid_min_time_limit(num_variables: int) -> float:
    """Leap hybrid BQM solver's minimum time limit (s) for ``num_variables`` variables."""
    xs, ys = zip(*HYBRID_BQM_MIN_TIME_LIMIT)
    return float(np.interp(max(1, num_variables), xs, ys))


@dataclass
class Resources:
    solver: str = ""
    placeholder_timing: bool = False
    qpu_calls: int = 0
    logical: list = field(default_factory=list)
    physical: list = field(default_factory=list)
    longest_chain: int = 0
    cbf: list = field(default_factory=list)
    chain_strength: list = field(default_factory=list)
    qpu_access_time_us: float = 0.0
    timing: TimingModel | None = None
    qpu_access_time_estimate_us: float = 0.0

    def record_call(self, logical: int, embedding: dict | None, sampleset) -> None:
        self.qpu_calls += 1
        self.logical.append(int(logical))
        if embedding:
            self.physical.append(int(sum(len(c) for c in embedding.values())))
            self.longest_chain = max(self.longest_chain, max(len(c) for c in embedding.values()))
        else:  # sampled directly on the qubits (dwave-hybrid's AutoEmbeddingComposite)
            self.physical.append(int(logical))
            self.longest_chain = max(self.longest_chain, 1 if logical else 0)
        rec = sampleset.record
        if "chain_break_fraction" in rec.dtype.names and len(rec):
            w = rec.num_occurrences
            self.cbf.append(float(np.average(rec.chain_break_fraction, weights=w)))
        else:
            self.cbf.append(0.0)
        timing = sampleset.info.get("timing", {}) or {}
        self.qpu_access_time_us += float(timing.get("qpu_access_time", 0.0) or 0.0)
        if self.timing is not None:
            reads = int(rec.num_occurrences.sum()) if len(rec) else 0
            self.qpu_access_time_estimate_us += self.timing.call_us(self.physical[-1], reads)

    def to_dict(self, **extra) -> dict:
        out = {
            "solver": self.solver,
            "subproblems": self.qpu_calls,
            "qpu_calls": self.qpu_calls,
            "logical_qubits_max": max(self.logical, default=0),
            "logical_qubits_total": int(sum(self.logical)),
            "physical_qubits_max": max(self.physical, default=0),
            "physical_qubits_total": int(sum(self.physical)),
            "longest_chain": int(self.longest_chain),
            "chain_break_fraction": float(np.mean(self.cbf)) if self.cbf else 0.0,
            "chain_strength_max": float(max(self.chain_strength, default=0.0)),
            "qpu_access_time_us": float(self.qpu_access_time_us),
            "qpu_access_time_is_placeholder": bool(self.placeholder_timing),
            "qpu_access_time_estimate_s": round(self.qpu_access_time_estimate_us * 1e-6, 6),
        }
        if self.placeholder_timing:
            out["qpu_access_time_note"] = ("MockDWaveSampler reports fixed placeholder timings "
                                           "(8550.28 us per call), not a QPU measurement")
        out.update(extra)
        return out


#: Fields that count something per call: summed over batches. Sizes and maxima are not.
_ADDITIVE = {"subproblems", "qpu_calls", "logical_qubits_total", "physical_qubits_total",
             "qpu_access_time_us", "qpu_access_time_estimate_s", "run_time_us", "charge_time_us",
             "hybrid_calls", "initial_energy", "energy_before_polish", "energy_after_polish",
             "embedding_cache_hits", "embedding_cache_misses", "embedding_failures",
             "embedding_time_s", "wall_time_s", "components", "roof_duality_fixed",
             "exact_components", "exact_variables", "qpu_variables",
             "packed_subproblems", "split_components", "blocks", "hybrid_loop_components",
             "variables", "interactions"}
_MAXIMUM = {"longest_chain", "largest_component", "sweeps", "distinct_subproblem_graphs"}


def merge_resources(items) -> dict:
    """Combine the ``info["resources"]`` of several sample sets (one per batch) into one.

    Counts and times add up; maxima and sizes (``*_max``, ``largest_component``...) take the
    largest; the chain-break fraction is averaged over QPU calls; any other field is kept when
    every batch agrees and listed per batch otherwise.
    """
    items = [r for r in items if r]
    if not items:
        return {}
    if len(items) == 1:
        return dict(items[0], batches=1)
    out = {}
    calls = [r.get("qpu_calls", r.get("subproblems", 0)) or 0 for r in items]
    for key in dict.fromkeys(k for r in items for k in r):
        vals = [r.get(key) for r in items]
        if key == "chain_break_fraction":
            tot = sum(calls)
            out[key] = (float(sum(c * (v or 0.0) for c, v in zip(calls, vals)) / tot) if tot
                        else 0.0)
        elif key.endswith("_max") or key in _MAXIMUM:
            out[key] = max(v or 0 for v in vals)
        elif key in _ADDITIVE:
            out[key] = sum(v or 0 for v in vals)
        else:
            out[key] = vals[0] if all(v == vals[0] for v in vals) else vals
    out["batches"] = len(items)
    return out
