"""The saliency maps kept between the two passes: pass 1 writes them, the saliency video reads them.

They go to one small temporary file as uint8, never into memory, so a long video's peak memory does
not grow with its duration. The file has no name (``tempfile.TemporaryFile``: unlinked as soon as it is
made), so the system frees it when the run ends, however it ends: a killed run leaves nothing in TMPDIR.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from common.atomic import is_disk_full
from common.errors import OutputError


class MapStore:
    """Per-frame maps kept on disk as uint8 between the passes (one small file, read back in order)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder or tempfile.gettempdir())
        self._fh = tempfile.TemporaryFile(dir=self.folder)  # noqa: SIM115 - closed by the reader or close()
        self.shape: tuple[int, int] | None = None
        self.count = 0

    def append(self, maps: np.ndarray) -> None:
        if self.shape is None:
            self.shape = maps.shape[1:]
        peak = maps.reshape(len(maps), -1).max(axis=1)
        scale = np.where(peak > 0, 255.0 / np.maximum(peak, 1e-30), 0.0)
        try:
            self._fh.write(np.clip(maps * scale[:, None, None], 0, 255).astype(np.uint8).tobytes())
        except OSError as exc:
            raise self._full(exc) from None
        self.count += len(maps)

    def _full(self, exc: OSError) -> BaseException:
        """A full temporary folder is named as such (not the output folder)."""
        if not is_disk_full(exc):
            return exc
        return OutputError(
            f"{self.folder}: the disk is full (no space left on device) while keeping the saliency "
            "maps between the passes; free space there, point TMPDIR elsewhere, or use --no-saliency-video"
        )

    def finish(self) -> MapReader | None:
        """A reader of what was stored (it owns the file from now on), or None when nothing was."""
        try:
            self._fh.flush()
        except OSError as exc:
            raise self._full(exc) from None
        if not self.count:
            self.close()
            return None
        return MapReader(self._fh, self.count, self.shape)

    def close(self) -> None:
        self._fh.close()


@contextlib.contextmanager
def map_store(enabled: bool = True) -> Iterator[MapStore | None]:
    """A :class:`MapStore` in the system's temporary folder for the block (None when not ``enabled``)."""
    store = MapStore() if enabled else None
    try:
        yield store
    finally:
        if store is not None:
            store.close()


class MapReader:
    """Reads one stored map at a time (seek + read). Not a memmap: mapped pages count as resident
    memory, which would make a long video's peak memory grow with its duration."""

    def __init__(self, fh, count: int, shape: tuple[int, int]) -> None:
        self._fh = fh
        self._count, self._shape = count, shape
        self._size = int(np.prod(shape))

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> np.ndarray:
        self._fh.seek(int(index) * self._size)
        return np.frombuffer(self._fh.read(self._size), dtype=np.uint8).reshape(self._shape)

    def close(self) -> None:
        self._fh.close()
