"""Content-addressed blob storage: bytes stored once under their sha256, on any fsspec filesystem.

A blob is written under a temporary name and renamed into place, so a reader sees either the
whole blob or nothing, and several processes may write the same blob at once. Every read
verifies the hash, so a damaged datastore is reported instead of silently feeding bad data
into a run; and a write never trusts a damaged copy already in place, so storing the content
again (re-running the run that produced it) repairs the blob.

A datastore that cannot be opened or written (an unknown URL, a full disk, a read-only folder)
raises `DatastoreError`, with the filesystem's error as its cause.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import posixpath
import re
import secrets
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cached_property
from typing import TYPE_CHECKING, Any

from shipyard.datastore.folders import in_folder
from shipyard.exceptions import BlobNotFound, CorruptBlobError, DatastoreError

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

__all__ = ["BlobStore"]

Chunk = bytes | bytearray | memoryview

# put_file streams in pieces this large: big enough for throughput, small enough for memory.
_COPY_CHUNK = 1 << 20
# Large blobs are hashed and written (or read) in pieces this large, so that hashing one piece
# in a helper thread overlaps the I/O of the next.
_PIECE = 16 << 20
# Below this, a helper thread costs more than it saves.
_OVERLAP_MIN = 4 << 20
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_PREFIX = re.compile(r"[0-9a-f]{2}")
_REST = re.compile(r"[0-9a-f]{62}")
# Temporary names start with a dot and never match the hex layout, so listings skip them.
_TEMP_PREFIX = ".tmp-"


def _absolute_local_path(url: str) -> str | None:
    """The path of a store given as an absolute local path (`/data/store`, `file:///data/store`),
    as fsspec would name it; None for anything else (remote, relative, chained URLs)."""
    path = url.removeprefix("file://")
    if not path.startswith("/") or "://" in path or "::" in path:
        return None
    return path


def _url_to_fs(url: str) -> tuple[AbstractFileSystem, str]:
    # fsspec costs ~0.1 s to import; paying it only when a store needs it keeps
    # `import shipyard` fast.
    import fsspec.core

    try:
        fs, root = fsspec.core.url_to_fs(url)
    except (ValueError, ImportError) as exc:  # an unknown protocol; its package not installed
        raise DatastoreError(
            f"cannot open the datastore {url!r}: {exc}. SHIPYARD_DATASTORE takes a local path "
            "or an fsspec URL (s3://, gs://, ...) whose package is installed."
        ) from exc
    return fs, root


def _as_bytes_view(chunk: Chunk) -> memoryview:
    """A flat byte view of `chunk`, so lengths are in bytes whatever the exporter's format.

    Only a non-contiguous buffer is copied; those cannot be hashed or written in place.
    """
    view = memoryview(chunk)
    if not view.c_contiguous:
        view = memoryview(view.tobytes())
    if view.format != "B" or view.ndim != 1:
        view = view.cast("B")
    return view


class BlobStore:
    """Blobs named by the sha256 of their content under `{root}/blobs/{sha[:2]}/{sha[2:]}`.

    Naming by content makes writes idempotent (the same bytes always land at the same name),
    which is what lets unchanged artifacts cost nothing and concurrent writers need no locks.
    The two-character fan-out keeps directories small enough for any filesystem to list.
    """

    def __init__(self, url: str) -> None:
        self._url = url
        root = _absolute_local_path(url)
        # A store at an absolute local path never needs fsspec (0.1 s to import, ~5 MB):
        # the local executor's fork server opens one, and forking costs by its size.
        self._is_local = root is not None
        if root is None:
            from fsspec.implementations.local import LocalFileSystem

            fs, root = _url_to_fs(url)
            self._fs = fs
            self._is_local = isinstance(fs, LocalFileSystem)
        self._root = root.rstrip("/") or "/"
        self._blob_root = f"{self._root.rstrip('/')}/blobs"

    @cached_property
    def _fs(self) -> AbstractFileSystem:
        """The fsspec filesystem: opened in __init__ for remote stores; for a local one only if
        a method without a plain-`os` path asks for it."""
        return _url_to_fs(self._url)[0]

    @property
    def url(self) -> str:
        """The URL the store was opened with, as given (for messages and for child processes)."""
        return self._url

    @property
    def is_local(self) -> bool:
        """Whether blobs live on this machine's filesystem (enables plain `os` file access)."""
        return self._is_local

    def __repr__(self) -> str:
        return f"BlobStore({self._url!r})"

    # -- naming -------------------------------------------------------------------------

    def path_of(self, sha: str) -> str:
        """Where the blob `sha` lives; validated so a bad hash can never address another file."""
        if not isinstance(sha, str) or not _SHA256_HEX.fullmatch(sha):
            raise ValueError(f"{sha!r} is not a sha256 hex digest (64 lowercase hex characters)")
        return f"{self._blob_root}/{sha[:2]}/{sha[2:]}"

    def _temp_path(self) -> str:
        # pid + randomness: unique across processes and across threads of one process.
        return f"{self._blob_root}/{_TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(8)}"

    # -- writing ------------------------------------------------------------------------

    def put_chunks(self, chunks: Iterable[Chunk]) -> tuple[str, int]:
        """Store the concatenation of `chunks`; return its (sha256, size).

        The hash is only known at the end, so the content is streamed to a temporary file
        while being hashed, then renamed to its final name. Chunks are written from the
        caller's memory as they are, so a large array buffer is never duplicated.
        """
        temp = self._temp_path()
        try:
            sha, size = self._write_temp(temp, chunks)
            self._commit(temp, sha)
        except BaseException as exc:
            # Also on KeyboardInterrupt: an interrupted write must not leave litter behind.
            self._discard(temp)
            if isinstance(exc, OSError):
                raise self._write_failed(exc) from exc
            raise
        return sha, size

    def put_bytes(self, data: bytes | bytearray | memoryview) -> str:
        """Store `data`; return its sha256. Writes nothing when the blob is already stored
        intact.

        Unlike `put_chunks`, the hash can be computed before writing, so a duplicate costs one
        hash and one read of the stored copy (to verify it) instead of a write. A stored copy
        that does not verify is replaced.
        """
        view = _as_bytes_view(data)
        sha = hashlib.sha256(view).hexdigest()
        if self._holds_intact(sha, view.nbytes):
            return sha
        return self.put_chunks([view])[0]

    def _holds_intact(self, sha: str, size: int) -> bool:
        """Whether blob `sha` is stored with the right size and content, its age refreshed.

        The size comes first (a stat): a truncated copy costs no read. Locally, the refresh is
        the last step and must find the file: a garbage collector that took the blob away
        after the check (see `delete_if_older`) makes it fail, and the caller writes the blob
        again instead of trusting a copy that is gone. Remote copies are checked by size only
        (reading one back costs a download); see `_commit_remote`.
        """
        path = self.path_of(sha)
        try:
            if not self._is_local:
                return int(self._fs.size(path)) == size
            if os.path.getsize(path) != size or self._read_local(path)[1] != sha:
                return False
            os.utime(path)  # a fresh mtime keeps the garbage collector away
            return True
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise self._write_failed(exc) from exc

    def put_file(self, path: str | os.PathLike[str]) -> str:
        """Store the content of the local file `path` (e.g. a task's log); return its sha256.

        Streamed in pieces so that arbitrarily large files need little memory.
        """
        with open(path, "rb") as f:  # opened here: a missing source is not the datastore's fault
            return self.put_chunks(self._read_pieces(f))[0]

    @staticmethod
    def _read_pieces(f: Any) -> Iterator[bytes]:
        while piece := f.read(_COPY_CHUNK):
            yield piece

    def _write_temp(self, temp: str, chunks: Iterable[Chunk]) -> tuple[str, int]:
        digest = _OverlappedDigest()
        size = 0
        try:
            with self._create(temp) as f:
                for chunk in chunks:
                    view = _as_bytes_view(chunk)
                    for start in range(0, view.nbytes, _PIECE):
                        piece = view[start : start + _PIECE]
                        digest.update(piece)
                        f.write(piece)
                    size += view.nbytes
            return digest.hexdigest(), size
        finally:
            digest.close()

    def _create(self, temp: str) -> Any:
        if self._is_local:
            # Plain files: fsspec's local layer adds overhead per call for nothing here.
            return in_folder(self._blob_root, lambda: open(temp, "xb"))
        self._fs.makedirs(self._blob_root, exist_ok=True)
        return self._fs.open(temp, "wb")

    def _commit(self, temp: str, sha: str) -> None:
        """Move a finished temporary file to its final name."""
        final = self.path_of(sha)
        if self._is_local:
            self._commit_local(temp, final)
        else:
            self._commit_remote(temp, final)

    @staticmethod
    def _commit_local(temp: str, final: str) -> None:
        """Rename over whatever is at the final name: the content is written already, so a
        rename costs no more than dropping it, and it repairs a damaged copy without reading
        it. Atomic: a reader or a concurrent writer sees one whole copy or the other, and
        the fresh mtime tells the garbage collector that someone relies on the blob again."""
        try:
            in_folder(os.path.dirname(final), lambda: os.replace(temp, final))
        except PermissionError:
            # Windows refuses to replace a file another process holds open, which only a
            # reader that verified it (or a writer of the same bytes) does.
            if not os.path.exists(final):
                raise
            os.remove(temp)

    def _commit_remote(self, temp: str, final: str) -> None:
        """Keep a stored copy of the right size (a remote rename is a copy, as costly as the
        upload); replace one of another size. Same-size damage is only found by reading, so
        on remote stores it is left to `get`'s check and to the provider's own checksums."""
        try:
            if int(self._fs.size(final)) == int(self._fs.size(temp)):
                self._fs.rm(temp)
                return
        except FileNotFoundError:
            self._fs.makedirs(posixpath.dirname(final), exist_ok=True)
        self._fs.mv(temp, final)

    def _discard(self, temp: str) -> None:
        # Never raises: it runs while another error (often an OSError of the same cause)
        # is on its way to the caller.
        with contextlib.suppress(OSError):
            if self._is_local:
                os.remove(temp)
            elif self._fs.exists(temp):
                self._fs.rm(temp)

    def _write_failed(self, exc: OSError) -> DatastoreError:
        where = f" ({exc.filename})" if exc.filename else ""
        return DatastoreError(
            f"cannot write to the datastore {self._url!r}: {exc.strerror or exc}{where}. "
            "Free some space or make it writable (or point SHIPYARD_DATASTORE elsewhere), "
            "then run again (`resume` keeps what was stored)."
        )

    # -- reading ------------------------------------------------------------------------

    def get(self, sha: str) -> bytearray:
        """The verified content of blob `sha`, in one freshly allocated bytearray.

        One buffer, filled in place, so that a deserializer can hand out views on it (e.g.
        NumPy arrays) and a large blob is held in memory exactly once.
        """
        path = self.path_of(sha)
        try:
            data, actual = self._read_local(path) if self._is_local else self._read_remote(path)
        except FileNotFoundError:
            raise self._not_found(sha) from None
        if actual != sha:
            raise CorruptBlobError(
                f"blob {path} is corrupt: expected sha256 {sha} but its content hashes to "
                f"{actual}. The datastore at {self._url!r} is damaged; re-run the run that "
                "produced this artifact to store it again."
            )
        return data

    @staticmethod
    def _read_local(path: str) -> tuple[bytearray, str]:
        with open(path, "rb", buffering=0) as f:
            size = os.fstat(f.fileno()).st_size
            return _fill(f, size)

    def _read_remote(self, path: str) -> tuple[bytearray, str]:
        with self._fs.open(path, "rb") as f:
            return _fill(f, f.size)

    def exists(self, sha: str) -> bool:
        """Whether blob `sha` is stored (without reading or verifying it)."""
        path = self.path_of(sha)
        return os.path.exists(path) if self._is_local else bool(self._fs.exists(path))

    def size(self, sha: str) -> int:
        """The size in bytes of blob `sha`, without reading it."""
        path = self.path_of(sha)
        try:
            return os.path.getsize(path) if self._is_local else int(self._fs.size(path))
        except FileNotFoundError:
            raise self._not_found(sha) from None

    def modified_at(self, sha: str) -> float:
        """When blob `sha` was last written or re-stored (a POSIX timestamp)."""
        path = self.path_of(sha)
        try:
            if self._is_local:
                return os.path.getmtime(path)
            return float(self._fs.modified(path).timestamp())
        except FileNotFoundError:
            raise self._not_found(sha) from None

    def temp_files(self) -> Iterator[tuple[str, float]]:
        """(path, modification time) of temporary files, e.g. left by a killed writer."""
        if not self._is_local:
            return
        try:
            entries = list(os.scandir(self._blob_root))
        except FileNotFoundError:
            return
        for entry in entries:
            if entry.name.startswith(_TEMP_PREFIX) and entry.is_file():
                with contextlib.suppress(FileNotFoundError):
                    yield entry.path, entry.stat().st_mtime

    def remove_temp_file(self, path: str) -> None:
        """Remove a temporary file `temp_files` listed; nothing else may be removed this way."""
        if not os.path.basename(path).startswith(_TEMP_PREFIX):
            raise ValueError(f"{path} is not a temporary blob file")
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)

    def delete_if_older(self, sha: str, cutoff: float) -> bool:
        """Remove blob `sha` unless it was written or re-stored after `cutoff` (a POSIX time);
        whether it was removed. For the garbage collector, deciding at the moment of deletion.

        Locally the blob is first renamed away (atomic), so no writer can refresh it between
        the age check and the removal: a writer that checks it before sees its refresh in the
        age here and the blob is put back; one that comes after finds no blob and writes it
        anew (see `_holds_intact`). Remote stores check the age just before deleting; a
        writer within that window is not seen.
        """
        path = self.path_of(sha)
        if not self._is_local:
            try:
                if self.modified_at(sha) > cutoff:
                    return False
            except BlobNotFound:
                return False
            self.delete(sha)
            return True
        doomed = self._temp_path()
        try:
            os.rename(path, doomed)
        except FileNotFoundError:
            return False
        if os.path.getmtime(doomed) > cutoff:
            os.replace(doomed, path)  # identical bytes, whether or not a writer stored it anew
            return False
        os.remove(doomed)
        return True

    def delete(self, sha: str) -> None:
        """Remove blob `sha`. Deleting a missing blob is not an error, so that concurrent
        garbage collectors cannot trip over each other."""
        path = self.path_of(sha)
        try:
            if self._is_local:
                os.remove(path)
            else:
                self._fs.rm(path)
        except FileNotFoundError:
            pass

    def iter_hashes(self) -> Iterator[str]:
        """Every stored blob's sha256 (for garbage collection and audits); temp files skipped."""
        if self._is_local:
            yield from self._iter_local()
        else:
            yield from self._iter_remote()

    def _iter_local(self) -> Iterator[str]:
        try:
            prefixes = sorted(e.name for e in os.scandir(self._blob_root) if e.is_dir())
        except FileNotFoundError:
            return
        for prefix in prefixes:
            if not _PREFIX.fullmatch(prefix):
                continue
            with os.scandir(f"{self._blob_root}/{prefix}") as entries:
                names = sorted(e.name for e in entries if e.is_file())
            for name in names:
                if _REST.fullmatch(name):
                    yield prefix + name

    def _iter_remote(self) -> Iterator[str]:
        if not self._fs.exists(self._blob_root):
            return
        for path in sorted(self._fs.find(self._blob_root)):
            parent, _, name = path.rstrip("/").rpartition("/")
            prefix = parent.rpartition("/")[2]
            if _PREFIX.fullmatch(prefix) and _REST.fullmatch(name):
                yield prefix + name

    def _not_found(self, sha: str) -> BlobNotFound:
        return BlobNotFound(
            f"blob {sha} is not in the datastore at {self._url!r}. Check that "
            "SHIPYARD_DATASTORE points at the datastore the run wrote to."
        )


def _fill(f: Any, size: int) -> tuple[bytearray, str]:
    """Read `size` bytes from `f` into a new bytearray, in place; return it and its sha256.

    If the file is shorter than announced, the hash covers what was read, so the caller's
    hash check reports the damage.
    """
    data = bytearray(size)
    view = memoryview(data)
    digest = _OverlappedDigest()
    filled = 0
    try:
        while filled < size:
            n = f.readinto(view[filled : filled + _PIECE])
            if not n:
                break
            digest.update(view[filled : filled + n])
            filled += n
        return data, digest.hexdigest()
    finally:
        digest.close()


class _OverlappedDigest:
    """A sha256 whose large updates run in a helper thread while the caller does I/O.

    hashlib and file I/O both release the GIL on large buffers, so on several cores a blob
    costs about max(hash, I/O) instead of their sum. Updates run in order (one worker).
    The buffers passed in must stay unchanged until `hexdigest` returns. The thread lives
    for one blob only, so no thread is left running when a worker process forks.
    """

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Future[None]] = []

    def update(self, piece: memoryview) -> None:
        if self._pool is None:
            if piece.nbytes < _OVERLAP_MIN:
                self._digest.update(piece)
                return
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shipyard-sha256")
        self._pending.append(self._pool.submit(self._digest.update, piece))

    def hexdigest(self) -> str:
        for pending in self._pending:
            pending.result()
        self._pending.clear()
        return self._digest.hexdigest()

    def close(self) -> None:
        """Stop the helper thread (waiting for queued updates, which still read our buffers)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
