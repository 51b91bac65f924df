"""Files appear under their final names only when complete, and a run's outputs appear together.

Every writer in the project (videos, trajectories, checkpoints, reports, downloads) goes through
:func:`atomic_path`: it writes a hidden sibling (same folder, so the rename is atomic; same suffix, so
muxers and encoders choose the same format) and renames it on success. An exception, Ctrl-C or a
termination signal removes the temporary file, so a half-written file never sits under a name a user
or a later run trusts.

A command that writes several files (a video, its trajectory, exports) opens an :class:`OutputSet`:
inside it, :func:`atomic_path` only hands out temporaries and the set renames them all at the end, so a
failure half-way (a full disk after the video, before the JSON) leaves none of them. The set also
refuses, before any work, an output that would replace one of the command's inputs (whatever the
alias: symlink, ``..``, hard link) or an existing file that the tool did not write itself.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import hashlib
import os
import secrets
import socket
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from common.errors import OutputError

_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}
_ACTIVE: contextvars.ContextVar[OutputSet | None] = contextvars.ContextVar("pano_pan_output_set", default=None)


def temp_path_for(final: Path) -> Path:
    """Hidden sibling of ``final`` that keeps its suffix and names its owner (host tag and process id),
    so a later run can tell a killed run's leftover from a part still being written (see
    :func:`remove_stale_parts`)."""
    return _hidden(final, "part")


def _hidden(final: Path, kind: str) -> Path:
    """``.<stem>.<kind>-<host>-<pid>-<token><suffix>`` beside ``final`` (kind: part or old, a backup)."""
    return final.with_name(f"{_hidden_prefix(final, kind)}{_owner()}-{secrets.token_hex(4)}{final.suffix}")


def _hidden_prefix(final: Path, kind: str) -> str:
    """``.<stem>.<kind>-``, the stem cut (and tagged with its hash) when the hidden name would pass 255
    bytes: a final name that fits must not fail only because its temporary does not."""
    stem = final.stem
    raw = stem.encode("utf-8", "surrogateescape")
    room = 255 - len(final.suffix.encode()) - 40  # ".", ".part-", host tag, pid, token
    if len(raw) > room:
        digest = hashlib.sha1(raw).hexdigest()[:8]
        stem = raw[: room - 9].decode("utf-8", "ignore") + "~" + digest
    return f".{stem}.{kind}-"


def _owner() -> str:
    return f"{_HOST}-{os.getpid()}"


_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:4]


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host still runs (a zombie, ended but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """Whether ``pid`` is a process that has ended and waits for its parent to reap it (Linux's state
    ``Z``): it still answers ``kill(pid, 0)`` but never writes again. A run killed under ``timeout -s
    KILL`` stays one for a moment, and a rerun started then kept its hidden parts for good."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False  # no /proc (macOS, Windows): judged by kill() alone
    return stat[stat.rfind(b")") + 2:][:1] == b"Z"


def _stale_owner(tag: str) -> bool:
    """Whether ``host-pid`` names a process of this host that is gone (another host's is never judged)."""
    host, _, pid = tag.partition("-")
    return host == _HOST and pid.isdigit() and not pid_alive(int(pid))


def remove_stale_parts(final: str | Path) -> list[Path]:
    """Delete what killed runs left beside ``final``: its hidden parts, and restore or drop its backups.

    A part is removed only when its owner (named in it, see :func:`temp_path_for`) is a process of this
    host that no longer runs; a backup (``.<stem>.old-…``, made while a set is committed) goes back to
    ``final`` when ``final`` is missing and is deleted otherwise. Returns the paths removed.
    """
    final = Path(final)
    removed: list[Path] = []
    folder = final.parent if str(final.parent) else Path(".")
    part, backup = _hidden_prefix(final, "part"), _hidden_prefix(final, "old")
    try:
        names = [n for n in os.listdir(folder) if n.startswith((part, backup)) and n.endswith(final.suffix)]
    except OSError:
        return removed
    for name in names:
        prefix = part if name.startswith(part) else backup
        tag = name[len(prefix):len(name) - len(final.suffix)].rpartition("-")[0]
        if not _stale_owner(tag):
            continue
        path = folder / name
        with contextlib.suppress(OSError):
            if prefix == backup and not os.path.lexists(final):
                os.replace(path, final)
            else:
                path.unlink()
            removed.append(path)
    return removed


def owned_temp_dir(prefix: str, folder: str | Path | None = None) -> tempfile.TemporaryDirectory:
    """A temporary folder named for its owner (``<prefix><host>-<pid>-…``) in ``folder`` (default: the
    system's temporary folder), after removing those of ``prefix`` whose owner was killed (so their files
    do not pile up)."""
    root = _sweep_owned(prefix, folder)
    return tempfile.TemporaryDirectory(prefix=f"{prefix}{_owner()}-", dir=root)


def owned_mkdtemp(prefix: str, folder: str | Path | None = None) -> Path:
    """:func:`owned_temp_dir` for a folder the caller renames or removes itself."""
    root = _sweep_owned(prefix, folder)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{_owner()}-", dir=root))


def _sweep_owned(prefix: str, folder: str | Path | None) -> Path:
    import shutil

    root = Path(folder) if folder is not None else Path(tempfile.gettempdir())
    with contextlib.suppress(OSError):
        for entry in os.scandir(root):
            if entry.name.startswith(prefix) and entry.is_dir(follow_symlinks=False):
                tag = "-".join(entry.name[len(prefix):].split("-")[:2])
                if _stale_owner(tag):
                    shutil.rmtree(entry.path, ignore_errors=True)
    return root


def is_disk_full(exc: BaseException) -> bool:
    """True for "no space left" (or quota, or file-size limit) from Python or from FFmpeg via PyAV."""
    return isinstance(exc, OSError) and getattr(exc, "errno", None) in _DISK_FULL


def disk_full_error(folder: Path) -> OutputError:
    return OutputError(
        f"{folder}: the disk is full (no space left on device); nothing was written there. Free some space "
        "or choose another output folder with -o"
    )


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two names reach the same file: through symlinks, ``..``, or a hard link."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _regular_or_absent(path: Path) -> bool:
    """Whether ``path`` (and what a symlink there points at) is a regular file, or nothing at all."""
    for look in (os.lstat, os.stat):
        try:
            mode = look(path).st_mode
        except OSError:
            return True
        if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            return False
    return True


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path; rename it to ``final`` if the block succeeds, delete it otherwise.

    Inside an :class:`OutputSet` the rename waits for the set's end, with the set's other outputs.
    """
    final = Path(final)
    active = _ACTIVE.get()
    if active is not None:
        yield active.claim(final)
        return
    if not _regular_or_absent(final):
        raise OutputError(f"{final}: is not a regular file (a device, a pipe or a socket), so it is never replaced; "
                          "choose another name")
    remove_stale_parts(final)
    tmp = temp_path_for(final)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if is_disk_full(exc):
            raise disk_full_error(final.parent) from None
        raise


class OutputSet:
    """The outputs of one command, committed together (see the module docstring).

    ``inputs`` are files no output may replace; ``recognise(path)`` says whether an existing file was
    written by this tool (then it may be replaced); ``overwrite`` allows replacing any other file.
    """

    def __init__(
        self,
        inputs: Iterable[str | Path | None] = (),
        overwrite: bool = False,
        recognise: Callable[[Path], bool] | None = None,
        rename_hint: str = "choose another name or folder with -o",
    ) -> None:
        self.inputs = [Path(p) for p in inputs if p is not None]
        self.overwrite = overwrite
        self.recognise = recognise
        self.rename_hint = rename_hint
        self._temps: dict[Path, Path] = {}  # final -> temporary
        self._token: contextvars.Token | None = None

    def check(self, final: str | Path) -> Path:
        """Refuse, now, an output that would replace an input or a file the tool did not write."""
        final = Path(final)
        for inp in self.inputs:
            if same_file(final, inp):
                raise OutputError(
                    f"{final}: this output would replace the input {inp}; {self.rename_hint}"
                )
        if final.is_dir():
            raise OutputError(f"{final}: is a folder, so an output cannot be written there; {self.rename_hint}")
        if not _regular_or_absent(final):  # even with --overwrite: a device or a pipe is never replaced
            raise OutputError(f"{final}: is not a regular file (a device, a pipe or a socket), so it is never "
                              f"replaced, even with --overwrite; {self.rename_hint}")
        if os.path.lexists(final) and not self.overwrite and not (self.recognise and self.recognise(final)):
            raise OutputError(
                f"{final}: exists and was not written by pano-pan; move it away, {self.rename_hint}, "
                "or pass --overwrite to replace it"
            )
        return final

    def reserve(self, *finals: str | Path | None) -> None:
        """:meth:`check` every name before long work starts, so a conflict costs the user no time."""
        for final in finals:
            if final is not None:
                self.check(final)

    def claim(self, final: str | Path) -> Path:
        """The temporary name to write ``final`` under; renamed at :meth:`commit`."""
        final = self.check(final)
        key = Path(os.path.abspath(final))
        if key in self._temps:
            return self._temps[key]
        remove_stale_parts(key)
        tmp = temp_path_for(key)
        self._temps[key] = tmp
        return tmp

    def commit(self) -> list[Path]:
        """Rename every temporary to its final name; on failure restore what was there before."""
        backups: list[tuple[Path, Path]] = []
        placed: list[Path] = []
        try:
            for final, tmp in self._temps.items():
                if not tmp.exists():
                    raise OutputError(f"{final}: was never written (internal error); nothing was replaced")
            for final, tmp in self._temps.items():
                if os.path.lexists(final):
                    backup = _hidden(final, "old")
                    os.replace(final, backup)
                    backups.append((backup, final))
                os.replace(tmp, final)
                placed.append(final)
        except BaseException:
            for final in placed:
                with contextlib.suppress(OSError):
                    final.unlink()
            for backup, final in backups:
                with contextlib.suppress(OSError):
                    os.replace(backup, final)
            self.discard()
            raise
        for backup, _ in backups:
            with contextlib.suppress(OSError):
                backup.unlink()
        done = list(self._temps)
        self._temps.clear()
        return done

    def discard(self) -> None:
        """Delete every temporary (after a failure or an interruption)."""
        for tmp in self._temps.values():
            with contextlib.suppress(OSError):
                tmp.unlink()
        self._temps.clear()

    def __enter__(self) -> OutputSet:
        self._token = _ACTIVE.set(self)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        folders = sorted({str(final.parent) for final in self._temps})
        try:
            if exc_type is None:
                self.commit()
            else:
                self.discard()
        except BaseException as err:
            if is_disk_full(err):
                raise disk_full_error(Path(folders[0] if folders else ".")) from None
            raise
        finally:
            if self._token is not None:
                _ACTIVE.reset(self._token)
                self._token = None
        if exc is not None and is_disk_full(exc):
            raise disk_full_error(Path(folders[0] if folders else ".")) from None
