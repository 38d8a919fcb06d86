"""The "hybrid" sampler: Leap's hybrid BQM solver on the batch as it is."""
from __future__ import annotations

import contextlib
import time

import dimod

from .credentials import check_credentials, client_config, cloud_errors

class LeapHybridBQMSampler(dimod.Sampler):
    """The "hybrid" sampler: Leap's hybrid BQM solver on the batch as it is."""

    parameters = {"time_limit": []}

    def __init__(self, *, profile=None, client_options=None, time_limit=None, dry_run=False):
        self.profile = profile
        self.client_options = client_options
        self.time_limit = time_limit
        self.dry_run = bool(dry_run)
        self._sampler = None

    @property
    def qtrack_capabilities(self):
        from .. import OFFLINE_QPU, REMOTE

        return OFFLINE_QPU if self.dry_run else REMOTE

    @property
    def properties(self):
        return {"dry_run": self.dry_run}

    def _open(self):
        if self._sampler is None:
            check_credentials("sampler 'hybrid'", self.profile)
            with cloud_errors("Leap hybrid"):
                from dwave.system import LeapHybridSampler

                self._sampler = LeapHybridSampler(**client_config(self.profile,
                                                                   self.client_options))
        return self._sampler

    def offline_report(self, bqm, progress: bool = False) -> dict:
        """A dry run: the hybrid solver takes the whole problem in one call, for at least its
        minimum time limit."""
        from .resources import hybrid_min_time_limit

        del progress  # nothing to wait for
        return {"variables": bqm.num_variables, "interactions": bqm.num_interactions,
                "hybrid_calls": 1, "min_time_limit_s": hybrid_min_time_limit(bqm.num_variables),
                "time_limit_s": self.time_limit, "submitted": 0, "credentials_needed": True}

    def close(self):
        if self._sampler is not None:
            with contextlib.suppress(Exception):
                self._sampler.close()
        self._sampler = None

    def sample(self, bqm, time_limit=None, **kwargs):
        self.remove_unknown_kwargs(**kwargs)
        t0 = time.perf_counter()
        time_limit = time_limit or self.time_limit
        if self.dry_run:  # nothing is submitted: a local annealer stands in
            from dwave.samplers import SimulatedAnnealingSampler

            ss = SimulatedAnnealingSampler().sample(bqm, num_reads=1, seed=0).truncate(1)
            ss.info["resources"] = {
                "solver": "dry run (simulated annealing stands in)", "hybrid_calls": 1,
                "variables": bqm.num_variables, "interactions": bqm.num_interactions,
                "qpu_access_time_us": 0.0, "run_time_us": 0.0, "dry_run": True,
                "wall_time_s": round(time.perf_counter() - t0, 3)}
            return ss
        sampler = self._open()
        params = {"time_limit": time_limit} if time_limit else {}
        with cloud_errors("Leap hybrid"):
            ss = sampler.sample(bqm, **params)
            ss.resolve()
        info = ss.info
        ss.info["resources"] = {
            "solver": str(sampler.solver.name),
            "hybrid_calls": 1,
            "variables": bqm.num_variables,
            "interactions": bqm.num_interactions,
            "qpu_access_time_us": float(info.get("qpu_access_time", 0.0) or 0.0),
            "run_time_us": float(info.get("run_time", 0.0) or 0.0),
            "charge_time_us": float(info.get("charge_time", 0.0) or 0.0),
            "dry_run": False,
            "wall_time_s": round(time.perf_counter() - t0, 3),
        }
        return ss

