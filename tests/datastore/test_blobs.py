"""BlobStore: content-addressed, atomic, verified blob storage on local disk and fsspec URLs."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
import tracemalloc
import uuid
from multiprocessing.synchronize import Barrier
from pathlib import Path

import numpy as np
import pytest

from shipyard.datastore import BlobStore
from shipyard.exceptions import BlobNotFound, CorruptBlobError, DatastoreError

from ..waiting import Span, assert_inside_at_once


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(str(tmp_path / "ds"))


def test_put_bytes_then_get_returns_the_same_bytes(store: BlobStore) -> None:
    sha = store.put_bytes(b"hello blobs")

    assert sha == sha256(b"hello blobs")
    assert store.get(sha) == b"hello blobs"


def test_get_returns_a_bytearray_so_views_on_it_are_writable(store: BlobStore) -> None:
    sha = store.put_bytes(b"abc")

    assert isinstance(store.get(sha), bytearray)


def test_put_chunks_stores_the_concatenation_and_returns_its_hash_and_size(
    store: BlobStore,
) -> None:
    chunks = [b"ab", bytearray(b"cd"), memoryview(b"ef"), b""]

    sha, size = store.put_chunks(chunks)

    assert (sha, size) == (sha256(b"abcdef"), 6)
    assert store.get(sha) == b"abcdef"


def test_put_chunks_counts_multibyte_memoryviews_in_bytes(store: BlobStore) -> None:
    array = np.arange(10, dtype=np.float64)

    sha, size = store.put_chunks([memoryview(array)])

    assert (sha, size) == (sha256(array.tobytes()), 80)


def test_large_chunks_mixed_with_small_ones_hash_and_read_back_in_order(
    store: BlobStore,
) -> None:
    # Big enough to be hashed in pieces by the helper thread, interleaved with small chunks.
    big = np.random.default_rng(0).integers(0, 255, 40 * 1024 * 1024, dtype=np.uint8)
    chunks = [b"head", memoryview(big), b"middle", memoryview(big[: 5 * 1024 * 1024]), b"end"]
    content = b"".join(bytes(c) for c in chunks)

    sha, size = store.put_chunks(chunks)

    assert (sha, size) == (sha256(content), len(content))
    assert store.get(sha) == content


def test_flipped_byte_deep_inside_a_large_blob_is_detected(store: BlobStore) -> None:
    sha = store.put_bytes(os.urandom(20 * 1024 * 1024))
    with open(store.path_of(sha), "r+b") as f:
        f.seek(17 * 1024 * 1024)
        byte = f.read(1)
        f.seek(17 * 1024 * 1024)
        f.write(bytes([byte[0] ^ 1]))

    with pytest.raises(CorruptBlobError):
        store.get(sha)


def test_blob_lives_under_a_two_character_fanout_of_its_hash(tmp_path: Path) -> None:
    store = BlobStore(str(tmp_path))

    sha = store.put_bytes(b"x")

    assert store.path_of(sha) == f"{tmp_path}/blobs/{sha[:2]}/{sha[2:]}"
    assert (tmp_path / "blobs" / sha[:2] / sha[2:]).read_bytes() == b"x"


def test_same_content_stored_twice_is_one_file(tmp_path: Path) -> None:
    store = BlobStore(str(tmp_path))

    first = store.put_bytes(b"same")
    second, _ = store.put_chunks([b"sa", b"me"])

    assert first == second
    assert stored_files(tmp_path) == [tmp_path / "blobs" / first[:2] / first[2:]]


def test_put_file_streams_a_local_file_into_a_blob(store: BlobStore, tmp_path: Path) -> None:
    log = tmp_path / "task.log"
    content = os.urandom(3 * 1024 * 1024 + 7)
    log.write_bytes(content)

    sha = store.put_file(log)

    assert sha == sha256(content)
    assert store.get(sha) == content


def test_successful_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    store = BlobStore(str(tmp_path))

    shas = {store.put_bytes(b"one"), store.put_chunks([b"two"])[0], store.put_bytes(b"one")}

    assert {f"{p.parent.name}{p.name}" for p in stored_files(tmp_path)} == shas


def test_a_write_failing_midway_leaves_neither_a_blob_nor_a_temporary_file(
    tmp_path: Path,
) -> None:
    store = BlobStore(str(tmp_path))

    def chunks():
        yield b"partial content"
        raise RuntimeError("producer died")

    with pytest.raises(RuntimeError, match="producer died"):
        store.put_chunks(chunks())

    assert stored_files(tmp_path) == []


def test_flipped_byte_in_a_stored_blob_raises_corrupt_blob_error(store: BlobStore) -> None:
    sha = store.put_bytes(b"precious model weights")
    path = Path(store.path_of(sha))
    damaged = bytearray(path.read_bytes())
    damaged[3] ^= 0xFF
    path.write_bytes(damaged)

    with pytest.raises(CorruptBlobError) as excinfo:
        store.get(sha)

    message = str(excinfo.value)
    assert str(path) in message
    assert sha in message
    assert sha256(bytes(damaged)) in message
    assert "re-run" in message


def test_missing_blob_raises_blob_not_found_naming_hash_and_datastore(store: BlobStore) -> None:
    sha = sha256(b"never stored")

    with pytest.raises(BlobNotFound) as excinfo:
        store.get(sha)

    assert sha in str(excinfo.value)
    assert store.url in str(excinfo.value)
    assert "SHIPYARD_DATASTORE" in str(excinfo.value)


def test_exists_and_size_report_stored_blobs_without_reading_them(store: BlobStore) -> None:
    sha = store.put_bytes(b"12345")

    assert store.exists(sha)
    assert store.size(sha) == 5
    assert not store.exists(sha256(b"other"))
    with pytest.raises(BlobNotFound):
        store.size(sha256(b"other"))


def test_delete_removes_a_blob_and_tolerates_a_missing_one(store: BlobStore) -> None:
    sha = store.put_bytes(b"garbage")

    store.delete(sha)
    store.delete(sha)

    assert not store.exists(sha)


def test_iter_hashes_lists_every_blob_and_ignores_temporary_files(tmp_path: Path) -> None:
    store = BlobStore(str(tmp_path))
    shas = {store.put_bytes(b"a"), store.put_bytes(b"b"), store.put_bytes(b"c")}
    (tmp_path / "blobs" / ".tmp-123-abcdef").write_bytes(b"half written")

    assert set(store.iter_hashes()) == shas


def test_iter_hashes_of_an_empty_store_is_empty(store: BlobStore) -> None:
    assert list(store.iter_hashes()) == []


@pytest.mark.parametrize("bad", ["../../etc/passwd", "ABC", "g" * 64, "A" * 64, ""])
def test_a_string_that_is_not_a_sha256_is_refused_as_a_blob_name(
    store: BlobStore, bad: str
) -> None:
    with pytest.raises(ValueError, match="sha256"):
        store.path_of(bad)


def test_relative_path_and_file_url_open_the_same_local_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    sha = BlobStore(".shipyard").put_bytes(b"shared")

    by_url = BlobStore(f"file://{tmp_path}/.shipyard")

    assert by_url.is_local
    assert by_url.url == f"file://{tmp_path}/.shipyard"
    assert by_url.get(sha) == b"shared"


def _write_same_blob(
    url: str, content: bytes, start: Barrier, results: multiprocessing.Queue
) -> None:
    store = BlobStore(url)
    pieces = [content[i : i + 65536] for i in range(0, len(content), 65536)]
    start.wait()  # every writer begins at once, however long its fork took
    began = time.time()
    written = store.put_chunks(pieces)
    results.put((written, Span(began, time.time())))


def test_concurrent_writers_of_the_same_blob_all_succeed(tmp_path: Path) -> None:
    url = str(tmp_path / "ds")
    content = os.urandom(4 * 1024 * 1024)
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    start = context.Barrier(8, timeout=60)
    writers = [
        context.Process(target=_write_same_blob, args=(url, content, start, results))
        for _ in range(8)
    ]

    for writer in writers:
        writer.start()
    finished = [results.get(timeout=60) for _ in writers]
    for writer in writers:
        writer.join(timeout=60)

    assert_inside_at_once([span for _, span in finished], "put_chunks", at_least=2)
    outcomes = [written for written, _ in finished]
    assert [w.exitcode for w in writers] == [0] * len(writers)
    assert set(outcomes) == {(sha256(content), len(content))}
    store = BlobStore(url)
    assert store.get(sha256(content)) == content
    assert list(store.iter_hashes()) == [sha256(content)]
    assert len(stored_files(tmp_path / "ds")) == 1


def test_writing_a_large_array_does_not_copy_it_in_memory(store: BlobStore) -> None:
    array = np.ones(4 * 1024 * 1024)  # 32 MiB
    tracemalloc.start()
    try:
        store.put_chunks([memoryview(array)])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 1024 * 1024


def test_reading_a_large_blob_allocates_it_once(store: BlobStore) -> None:
    size = 32 * 1024 * 1024
    sha, _ = store.put_chunks([memoryview(np.ones(size // 8))])
    tracemalloc.start()
    try:
        data = store.get(sha)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert len(data) == size
    assert peak < size + 1024 * 1024


@pytest.fixture
def memory_store() -> BlobStore:
    url = f"memory://shipyard-test-{uuid.uuid4().hex}"
    return BlobStore(url)


def test_memory_url_stores_and_verifies_blobs(memory_store: BlobStore) -> None:
    sha, size = memory_store.put_chunks([b"in ", memoryview(b"memory")])

    assert not memory_store.is_local
    assert (sha, size) == (sha256(b"in memory"), 9)
    assert memory_store.get(sha) == b"in memory"
    assert memory_store.size(sha) == 9


def test_memory_url_deduplicates_and_lists_blobs_without_temporaries(
    memory_store: BlobStore,
) -> None:
    first = memory_store.put_bytes(b"dup")
    second, _ = memory_store.put_chunks([b"d", b"up"])
    other = memory_store.put_file(__file__)

    assert first == second
    assert sorted(memory_store.iter_hashes()) == sorted({first, other})


def test_memory_url_reports_missing_and_corrupt_blobs(memory_store: BlobStore) -> None:
    import fsspec

    sha = memory_store.put_bytes(b"original")
    fs = fsspec.filesystem("memory")
    with fs.open(memory_store.path_of(sha), "wb") as f:
        f.write(b"tampered")

    with pytest.raises(CorruptBlobError):
        memory_store.get(sha)
    memory_store.delete(sha)
    with pytest.raises(BlobNotFound):
        memory_store.get(sha)


def damage(store: BlobStore, sha: str, how: str) -> None:
    """Damage a stored blob in place: flip a byte (same size) or cut its end off."""
    path = Path(store.path_of(sha))
    content = bytearray(path.read_bytes())
    if how == "flipped":
        content[len(content) // 2] ^= 0xFF
    else:
        del content[len(content) // 2 :]
    path.write_bytes(content)


@pytest.mark.parametrize("how", ["flipped", "truncated"])
def test_put_bytes_over_a_damaged_blob_repairs_it(store: BlobStore, how: str) -> None:
    content = b"model weights " * 1000
    sha = store.put_bytes(content)
    damage(store, sha, how)

    assert store.put_bytes(content) == sha

    assert store.get(sha) == content


@pytest.mark.parametrize("how", ["flipped", "truncated"])
def test_put_chunks_over_a_damaged_blob_repairs_it(store: BlobStore, how: str) -> None:
    content = [b"a large array, ", b"in pieces " * 1000]
    sha, _ = store.put_chunks(content)
    damage(store, sha, how)

    assert store.put_chunks(content)[0] == sha

    assert store.get(sha) == b"".join(content)
    assert list(store.temp_files()) == []


def test_put_bytes_leaves_an_intact_blob_untouched_but_refreshes_its_age(
    store: BlobStore,
) -> None:
    sha = store.put_bytes(b"stored once")
    path = Path(store.path_of(sha))
    inode = path.stat().st_ino
    os.utime(path, (1_000_000, 1_000_000))

    store.put_bytes(b"stored once")

    assert path.stat().st_ino == inode  # not rewritten
    assert path.stat().st_mtime > 1_000_000


def test_a_write_the_filesystem_refuses_is_a_datastore_error_naming_the_store(
    tmp_path: Path,
) -> None:
    # A real OSError that no privilege gets around (tests may run as root, where a read-only
    # folder is writable): the blobs folder is a regular file, so nothing can be made in it.
    (tmp_path / "blobs").write_text("not a folder")
    store = BlobStore(str(tmp_path))

    with pytest.raises(DatastoreError) as excinfo:
        store.put_bytes(b"anything")

    assert isinstance(excinfo.value.__cause__, NotADirectoryError)
    assert f"cannot write to the datastore {str(tmp_path)!r}" in str(excinfo.value)
    assert "Not a directory" in str(excinfo.value)
    assert (tmp_path / "blobs").read_text() == "not a folder"


def test_an_unknown_datastore_protocol_is_a_datastore_error() -> None:
    with pytest.raises(DatastoreError, match="cannot open the datastore 'nosuch://bucket/x'"):
        BlobStore("nosuch://bucket/x")
