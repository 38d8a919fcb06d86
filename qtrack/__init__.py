"""qtrack: charged-particle track finding as a QUBO, solved by annealing."""
__version__ = "0.1.0"
