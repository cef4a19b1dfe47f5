"""Metaflow versions of the benchmark flows: each differs from its Shipyard twin only in its import."""
