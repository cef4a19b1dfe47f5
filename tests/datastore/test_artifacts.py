"""ArtifactStore and LazyArtifact: objects saved as verified blobs and loaded back on demand."""

from __future__ import annotations

import os
import sys
import tracemalloc
import types
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from shipyard.datastore import ArtifactRef, ArtifactStore, BlobStore, FlowClasses, LazyArtifact
from shipyard.datastore.serialization import ArtifactSerializationError
from shipyard.exceptions import BlobNotFound, CorruptBlobError


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(str(tmp_path / "ds"))


@pytest.fixture
def store(blobs: BlobStore) -> ArtifactStore:
    return ArtifactStore(blobs)


@pytest.mark.parametrize("value", [7, "seven", {"k": [1, 2.5, None]}])
def test_saved_python_value_loads_back_equal(store: ArtifactStore, value: object) -> None:
    assert store.load(store.save(value)) == value


def test_ref_records_hash_type_size_and_encoding_of_the_blob(
    store: ArtifactStore, blobs: BlobStore
) -> None:
    ref = store.save(np.zeros(100))

    assert ref.type_name == "numpy.ndarray"
    assert ref.encoding == "pickle5"
    assert ref.size == blobs.size(ref.sha256)
    assert blobs.exists(ref.sha256)


def test_equal_objects_are_stored_once(store: ArtifactStore, blobs: BlobStore) -> None:
    first = store.save({"weights": np.arange(1000.0)})
    second = store.save({"weights": np.arange(1000.0)})

    assert first == second
    assert list(blobs.iter_hashes()) == [first.sha256]


def test_loaded_array_is_writable_and_backed_by_the_blob_buffer(store: ArtifactStore) -> None:
    loaded = store.load(store.save(np.arange(10_000, dtype=np.float64)))
    loaded[:] = 1.0

    base = loaded
    while isinstance(base, np.ndarray | memoryview):
        base = base.base if isinstance(base, np.ndarray) else base.obj
    assert isinstance(base, bytearray)
    assert len(base) >= loaded.nbytes


def test_dataframe_and_arrow_table_round_trip(store: ArtifactStore) -> None:
    frame = pd.DataFrame({"a": np.arange(50), "b": ["x"] * 50})
    table = pa.table({"a": np.arange(50)})

    pd.testing.assert_frame_equal(store.load(store.save(frame)), frame)
    assert store.load(store.save(table)).equals(table)


def test_loading_a_damaged_artifact_raises_corrupt_blob_error(
    store: ArtifactStore, blobs: BlobStore
) -> None:
    ref = store.save(list(range(100)))
    path = Path(blobs.path_of(ref.sha256))
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(data)

    with pytest.raises(CorruptBlobError):
        store.load(ref)


def test_loading_an_artifact_whose_module_is_gone_names_its_type(
    store: ArtifactStore,
) -> None:
    module = types.ModuleType("vanishing_model_lib")
    exec("class Model:\n    pass\n", module.__dict__)
    sys.modules[module.__name__] = module
    try:
        ref = store.save(module.Model())
    finally:
        del sys.modules[module.__name__]

    with pytest.raises(ArtifactSerializationError, match=r"vanishing_model_lib\.Model"):
        store.load(ref)


def test_saving_an_unpicklable_object_raises_artifact_serialization_error(
    store: ArtifactStore,
) -> None:
    with pytest.raises(ArtifactSerializationError):
        store.save(lambda: None)


def test_saving_a_large_array_does_not_copy_it(store: ArtifactStore) -> None:
    array = np.ones(4 * 1024 * 1024)  # 32 MiB
    tracemalloc.start()
    try:
        store.save(array)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 1024 * 1024


def test_loading_a_large_array_holds_its_bytes_once(store: ArtifactStore) -> None:
    ref = store.save(np.ones(4 * 1024 * 1024))  # 32 MiB
    tracemalloc.start()
    try:
        loaded = store.load(ref)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert loaded.nbytes == 32 * 1024 * 1024
    assert peak < loaded.nbytes + 1024 * 1024


@pytest.fixture
def counting_store(store: ArtifactStore) -> Iterator[tuple[ArtifactStore, list[ArtifactRef]]]:
    loads: list[ArtifactRef] = []
    original = store.load

    def load(ref: ArtifactRef, flow_classes: FlowClasses | None = None) -> object:
        loads.append(ref)
        return original(ref, flow_classes)

    store.load = load  # type: ignore[method-assign]
    yield store, loads


def test_lazy_artifact_does_not_read_the_store_until_value_is_accessed(
    counting_store: tuple[ArtifactStore, list[ArtifactRef]],
) -> None:
    store, loads = counting_store
    ref = store.save("payload")

    lazy = LazyArtifact(store, ref)

    assert loads == []
    assert not lazy.is_loaded
    assert lazy.value == "payload"
    assert lazy.is_loaded


def test_lazy_artifact_loads_once_and_caches_the_value(
    counting_store: tuple[ArtifactStore, list[ArtifactRef]],
) -> None:
    store, loads = counting_store
    lazy = LazyArtifact(store, store.save([1, 2, 3]))

    first = lazy.value
    second = lazy.value

    assert first is second
    assert len(loads) == 1


def test_lazy_artifact_caches_a_none_value(
    counting_store: tuple[ArtifactStore, list[ArtifactRef]],
) -> None:
    store, loads = counting_store
    lazy = LazyArtifact(store, store.save(None))

    assert lazy.value is None
    assert lazy.value is None
    assert len(loads) == 1


def test_lazy_artifact_of_a_missing_blob_fails_only_on_access(store: ArtifactStore) -> None:
    ref = ArtifactRef(sha256="0" * 64, type_name="builtins.int", size=10, encoding="pickle5")

    lazy = LazyArtifact(store, ref)

    assert lazy.ref == ref
    with pytest.raises(BlobNotFound):
        _ = lazy.value


def test_an_unchanged_object_is_not_written_again(tmp_path):
    store = ArtifactStore(BlobStore(str(tmp_path)))
    ref = store.save({"weights": [1, 2, 3]})
    os.remove(store.blobs.path_of(ref.sha256))  # a rewrite would bring the file back
    assert store.save({"weights": [1, 2, 3]}, unchanged_from=ref) == ref
    assert not store.blobs.exists(ref.sha256)


def test_an_object_mutated_in_place_is_stored_anew(tmp_path):
    store = ArtifactStore(BlobStore(str(tmp_path)))
    value = {"weights": [1, 2, 3]}
    ref = store.save(value)
    value["weights"].append(4)
    changed = store.save(value, unchanged_from=ref)
    assert changed.sha256 != ref.sha256
    assert store.load(changed) == {"weights": [1, 2, 3, 4]}
