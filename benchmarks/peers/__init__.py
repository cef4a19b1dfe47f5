"""Metaflow twins of the benchmark flows: each differs from its Shipyard flow only in imports."""
