"""`VectorEncoder`: a fitted feature set's encoders applied to decoded online vectors with
NumPy, without a pandas frame.

A scorer encodes one or a few vectors per request. Through `FittedFeatureSet.transform` that
is a frame and a Series per feature, about a millisecond of pandas overhead around
microseconds of arithmetic. The encoder instead compiles each column's chain once (the
encoders' `kernel`s with their fitted state) and runs it on the plain arrays `VectorCodec`
decodes to, giving the values `transform` gives the same vectors as a frame. A version with
time columns (which a frame holds as Arrow converts them) goes through `transform` instead.
`EncodedVectors` is the whole lookup: read, decode, encode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shipyard.features.encoders import Kernel, Takes, not_numbers
from shipyard.features.errors import EncoderError
from shipyard.features.online.codec import VectorCodec

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.features.fitted import FittedFeatureSet
    from shipyard.features.online.vectors import OnlineVectors

__all__ = ["EncodedColumns", "EncodedVectors", "VectorEncoder"]

#: One column's compiled chain: each step's input and kernel.
Chain = tuple[tuple[Takes, Kernel], ...]


@dataclass(frozen=True)
class EncodedColumns:
    """Encoded vectors as columns: `arrays[i]` holds column `names[i]`, one value per vector."""

    names: list[str]
    arrays: list[Any]

    def rows(self) -> list[tuple[Any, ...]]:
        """One tuple of Python values per vector (what `itertuples` gives of a frame)."""
        return list(zip(*(array.tolist() for array in self.arrays), strict=True))

    def frame(self, index: pd.Index) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(dict(zip(self.names, self.arrays, strict=True)), index=index)


class VectorEncoder:
    """The encoders of `fitted`, compiled for the vectors `codec` decodes."""

    def __init__(self, fitted: FittedFeatureSet, codec: VectorCodec) -> None:
        names = [column.name for column in codec.columns]
        missing = sorted(set(fitted.encoders) - set(names))
        if missing:
            raise EncoderError(
                f"the fitted encoders are for columns {missing}, which the vectors of "
                f"{fitted.feature_set} {fitted.version} do not have: fit on this version"
            )
        self.fitted = fitted
        self.codec = codec
        self._plain = codec.plain
        self._chains: list[Chain] = [
            tuple((encoder.takes, encoder.kernel(state)) for encoder, state in chain)
            for chain in (fitted.encoders.get(name, ()) for name in names)
        ]
        self.names: list[str] = []
        for name in names:
            chain = fitted.encoders.get(name, ())
            self.names += chain[-1][0].output_names(name, chain[-1][1]) if chain else [name]

    def encode(self, rows: Sequence[Sequence[Any]]) -> EncodedColumns:
        """The encoded columns of decoded value rows (`StoredVector.values`, in order)."""
        if not self._plain:
            return self._transformed(rows)
        arrays: list[Any] = []
        for column, values, chain in zip(
            self.codec.columns, self.codec.arrays(rows), self._chains, strict=True
        ):
            for takes, kernel in chain:
                values = kernel(_input(values, takes, column.name))
            arrays += list(values.T) if values.ndim == 2 else [values]
        return EncodedColumns(self.names, arrays)

    def _transformed(self, rows: Sequence[Sequence[Any]]) -> EncodedColumns:
        import pandas as pd

        encoded = self.fitted.transform(self.codec.frame(rows, pd.RangeIndex(len(rows))))
        return EncodedColumns(
            [str(name) for name in encoded.columns],
            [encoded[name].to_numpy() for name in encoded.columns],
        )


class EncodedVectors:
    """Encoded lookups of one fitted feature set in one reader's store: the hot path of
    scoring by entity id (`FittedFeatureSet.online_vectors` makes a frame of it)."""

    def __init__(self, reader: OnlineVectors, fitted: FittedFeatureSet) -> None:
        self.reader = reader
        self.encoder = VectorEncoder(fitted, reader.codec)

    def lookup(self, ids: Sequence[Any]) -> EncodedColumns:
        """Each id's encoded vector, in order; an id the store does not hold gets the empty
        values, encoded."""
        stored = self.reader.store.read_vectors(self.reader.record.version, self.reader.keys(ids))
        return self.decoded(stored)

    def decoded(self, stored: Sequence[bytes | None]) -> EncodedColumns:
        """Stored vectors (None: none stored) decoded and encoded."""
        codec = self.reader.codec
        empty = codec.empty_values()
        return self.encoder.encode(
            [empty if data is None else codec.decode(data).values for data in stored]
        )


def _input(values: Any, takes: Takes, column: str) -> Any:
    """`values` as a kernel taking `takes` needs them (what the pandas path converts to)."""
    if takes is Takes.NUMBERS:
        if values.dtype.kind not in "iufcb":
            raise not_numbers(column, values.dtype)
        return values.astype("float64")
    if takes is Takes.OBJECTS:
        return values.astype(object)
    return values
