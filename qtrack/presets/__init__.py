"""Shipped configs (TOML), usable by name: ``qtrack solve --config fast``."""
