"""Fetching released files (trained checkpoints) into a local cache, verified by SHA-256.

Commands that take a checkpoint accept ``https://host/model.pt#sha256=<64 hex digits>`` where they
accept a path (:func:`resolve`): the hash is part of the name, so a file is never used unverified.

A file is downloaded once into the cache folder (``$PANO_PAN_CACHE``, else ``~/.cache/pano-pan``),
streamed to a temporary name while hashing, and renamed only when its SHA-256 matches, so the cache
never holds a partial or tampered file under the real name. Later calls with the same URL and hash are
answered from the cache without touching the network.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import unquote, urlparse

from common.atomic import atomic_path
from common.errors import DownloadError

DEFAULT_TIMEOUT = 30.0  # seconds without data before giving up


def cache_dir(cache: str | Path | None = None) -> Path:
    """The cache folder: ``cache`` if given, else ``$PANO_PAN_CACHE``, else ``~/.cache/pano-pan``."""
    if cache is not None:
        return Path(cache)
    env = os.environ.get("PANO_PAN_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "pano-pan"


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def fetch(url: str, sha256: str, cache_dir: str | Path | None = None, timeout: float = DEFAULT_TIMEOUT) -> Path:
    """Path to a verified local copy of ``url``; downloads it only when the cache lacks a good copy."""
    want = sha256.strip().lower()
    if len(want) != 64 or any(c not in "0123456789abcdef" for c in want):
        raise DownloadError(f"{url}: {sha256!r} is not a SHA-256 hex digest; give the 64-character hash")
    name = Path(unquote(urlparse(url).path)).name or "download"
    folder = _cache_folder(cache_dir)
    target = folder / name
    if target.is_file() and sha256_file(target) == want:
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as tmp:
            _download_verified(url, want, tmp, target, timeout)
    except OSError as exc:
        raise DownloadError(f"{folder}: cannot write the download cache ({exc}); set PANO_PAN_CACHE") from None
    return target


def _download_verified(url: str, want: str, tmp: Path, target: Path, timeout: float) -> None:
    """Stream ``url`` into ``tmp`` and refuse it unless its SHA-256 is ``want``."""
    digest = hashlib.sha256()
    with open(tmp, "wb") as out:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp:
                while block := resp.read(1 << 20):
                    digest.update(block)
                    out.write(block)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise DownloadError(
                f"{url}: download failed ({reason}); check the connection, or download it by hand to {target}"
            ) from None
    got = digest.hexdigest()
    if got != want:
        raise DownloadError(
            f"{url}: SHA-256 mismatch (expected {want[:12]}…, got {got[:12]}…); the file changed on the "
            "server or was damaged in transit, so it was not used"
        )


SHA_FRAGMENT = "sha256="


def is_url(spec: str | Path) -> bool:
    return str(spec).startswith(("https://", "http://"))


def resolve(spec: str | Path, what: str = "checkpoint", cache: str | Path | None = None) -> Path:
    """A local path as it is; ``URL#sha256=HEX`` fetched once into the cache, verified, and its path.

    Without the hash a URL is refused (nothing would say that the file is the one meant).
    """
    if not is_url(spec):
        return Path(spec)
    url, _, fragment = str(spec).partition("#")
    if not fragment.startswith(SHA_FRAGMENT):
        raise DownloadError(f"{url}: a {what} from the web needs its SHA-256; append "
                            f"#{SHA_FRAGMENT}<64 hex digits> (the hash the publisher gives)")
    return fetch(url, fragment[len(SHA_FRAGMENT):], cache)


def _cache_folder(cache: str | Path | None) -> Path:
    return cache_dir(cache)
