"""Facts and shared features: bitemporal fact tables, feature and encoder definitions, and
point-in-time-correct training sets (see docs/features.md)."""
