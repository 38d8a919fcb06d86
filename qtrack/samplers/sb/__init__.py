"""Simulated bifurcation: a dimod sampler over numba kernels."""
from .sampler import SimulatedBifurcationSampler

__all__ = ["SimulatedBifurcationSampler"]
