"""What the hardware was asked for: sub-problems, qubits, chains, QPU time."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
        }
        if self.placeholder_timing:
            out["qpu_access_time_note"] = ("MockDWaveSampler reports fixed placeholder timings "
                                           "(8550.28 us per call), not a QPU measurement")
        out.update(extra)
        return out


#: Fields that count something per call: summed over batches. Sizes and maxima are not.
_ADDITIVE = {"subproblems", "qpu_calls", "logical_qubits_total", "physical_qubits_total",
             "qpu_access_time_us", "run_time_us", "charge_time_us", "hybrid_calls",
             "embedding_cache_hits", "embedding_cache_misses", "embedding_failures",
             "embedding_time_s", "wall_time_s", "components", "singleton_components",
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
