"""Our versioned datasets on any fsspec filesystem: a local path, ``file://``, ``s3://``,
``gs://``, ``abfs://`` …, with ``credentials`` (from ``conf/local/credentials.yml``) and
``fs_args`` as kedro-datasets take them.

Saving writes locally first: on the local filesystem into a temporary beside the target, renamed
into place on success (``atomic_path``); on a remote one into a temporary folder, then uploaded,
a folder's marker file (the one ``exists`` looks for) last, so an interrupted upload never looks
complete. Loading from a remote filesystem stages the version into a local cache
(``$KEDRO_GPT_CACHE``, default ``~/.cache/kedro-gpt``) and reads it there: token shards are
memory-mapped and Parquet files streamed from local disk. A versioned path never changes, so a
cached version is reused; an unversioned one is fetched again on every load.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from copy import deepcopy
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

import fsspec
from kedro.io.core import (
    AbstractVersionedDataset,
    DatasetError,
    Version,
    get_filepath_str,
    get_protocol_and_path,
)

from kedro_gpt.datasets.atomic import atomic_path

_DI = TypeVar("_DI")
_DO = TypeVar("_DO")

#: Local protocols: written in place with a rename.
LOCAL = ("file", "local")


def cache_root() -> Path:
    """Where remote versions are staged for reading."""
    return Path(os.environ.get("KEDRO_GPT_CACHE", "~/.cache/kedro-gpt")).expanduser()


class FsspecVersionedDataset(AbstractVersionedDataset[_DI, _DO]):
    """A versioned dataset whose ``filepath`` may be any fsspec URL.

    ``marker``: for a folder dataset, the file whose presence says a version is complete (it is
    uploaded last); None for a single-file dataset.
    """

    marker: str | None = None

    def __init__(
        self,
        filepath: str,
        version: Version | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        protocol, path = get_protocol_and_path(filepath, version)
        self._protocol = protocol
        self._fs = fsspec.filesystem(protocol, **(deepcopy(credentials) or {}), **(fs_args or {}))
        self.metadata = metadata
        super().__init__(
            PurePosixPath(path),
            version,
            exists_function=self._fs.exists,
            glob_function=self._fs.glob,
        )

    @property
    def is_local(self) -> bool:
        return self._protocol in LOCAL

    def _path_str(self, path: PurePosixPath) -> str:
        return get_filepath_str(path, self._protocol)

    def _url(self, path: PurePosixPath) -> str:
        """How messages name a path: with its protocol when it is remote."""
        text = self._path_str(path)
        return text if self.is_local else f"{self._protocol}://{text}"

    @contextmanager
    def _writing(self) -> Iterator[Path]:
        """A local path to write the save version at; on success it is renamed into place or
        uploaded, on failure removed and nothing is left at the target."""
        target = self._path_str(self._get_save_path())
        if self.is_local:
            with atomic_path(target) as tmp:
                yield tmp
            return
        with tempfile.TemporaryDirectory(prefix="kedro-gpt-upload-") as folder:
            local = Path(folder) / PurePosixPath(target).name
            yield local
            self._upload(local, target)
        self._invalidate_cache()

    def _upload(self, local: Path, target: str) -> None:
        if not local.is_dir():
            self._fs.put_file(str(local), target)
            return
        files = sorted(p for p in local.rglob("*") if p.is_file())
        files.sort(key=lambda p: p.name == self.marker)  # the marker last
        for file in files:
            self._fs.put_file(str(file), f"{target}/{file.relative_to(local).as_posix()}")

    def _reading(self) -> Path:
        """A local path holding the load version (itself, or a cached copy of a remote one)."""
        if not self.is_local:
            self._fs.invalidate_cache()  # see versions and files other processes wrote since
        source = self._path_str(self._get_load_path())
        if self.is_local:
            return Path(source)
        local = cache_root() / self._protocol / source
        complete = local / self.marker if self.marker else local
        if self._version is not None and complete.exists():
            return local
        if not self._fs.exists(f"{source}/{self.marker}" if self.marker else source):
            raise DatasetError(f"Nothing at {self._url(self._get_load_path())}")
        with atomic_path(local) as tmp:
            if not self.marker:
                self._fs.get_file(source, str(tmp))
                return local
            for remote in self._fs.find(source):
                file = tmp / PurePosixPath(remote).relative_to(PurePosixPath(source))
                file.parent.mkdir(parents=True, exist_ok=True)
                self._fs.get_file(remote, str(file))
        return local

    def _exists(self) -> bool:
        try:
            path = self._path_str(self._get_load_path())
        except DatasetError:
            return False
        return bool(self._fs.exists(f"{path}/{self.marker}" if self.marker else path))

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._url(self._filepath), "version": self._version}

    def _release(self) -> None:
        super()._release()
        self._invalidate_cache()

    def _invalidate_cache(self) -> None:
        """Forget what the filesystem cached about listings, so new versions are seen."""
        self._fs.invalidate_cache(self._path_str(self._filepath))
