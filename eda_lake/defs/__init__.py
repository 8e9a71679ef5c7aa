"""Dagster definitions only: a thin layer over the rooms of the package, by domain."""
