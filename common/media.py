"""The one way pano-pan opens a media file with PyAV, and the one message for each way that fails.

Every reader (the probe, the frame and plane decoders, the audio decoder) opens through
:func:`open_media`, so a missing file, a folder, a non-regular file or an unreadable one reads the same
whichever command hit it.
"""

from __future__ import annotations

import collections
import threading
from pathlib import Path

from common.errors import InputError
from common.files import require_regular_file


def require_media_file(path: str | Path) -> Path:
    """``path`` as a regular file, or the ``InputError`` every reader gives for a missing file, a folder
    or a pipe: :func:`open_media`'s first check, which the CLI makes before importing the pipeline."""
    return require_regular_file(path, "file", "check the path", folder_fix="pass a video file")


def open_media(path: str | Path, expect: str = "a video", fix: str = "pass an MP4/MOV/MKV 360° video"):
    """An open ``av`` input container for ``path``, or an ``InputError`` naming the file and ``fix``.

    ``expect`` words what the caller needs ("a video", "a media file"). Only regular files are opened:
    every reader opens the file more than once (probe, then decode), which a pipe or a device cannot
    serve, so those are refused here instead of hanging on the second open.
    """
    path = require_media_file(path)
    import av  # after the check: a missing file is reported without PyAV's import

    try:
        return av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError(f"{path}: not {expect} FFmpeg can read ({reason}); {fix}") from None


# Packets one reader of a SharedInput may have waiting before it reads on from a container of its own
# (bytes, counting each packet's own overhead too): enough for a second of a 4K camera's video, which
# is how far apart cameras and FFmpeg interleave their tracks.
QUEUE_LIMIT = 16 << 20
_PACKET_OVERHEAD = 256  # a Packet object and its AVPacket, roughly


class SharedInput:
    """One open container that several readers, one per stream, take their packets from.

    FFmpeg's MP4 demuxer holds an index of every sample of every track from the moment a file is
    opened (26.7 MB for the two-hour memory benchmark clip): two readers of one file each opening it
    (the picture and the sound of a render) held it twice. Here the file is opened once and read once: a packet of
    a stream whose reader is not asking now waits in that reader's queue. A reader that falls so far
    behind that its queue passes ``QUEUE_LIMIT`` (a file whose tracks are stored far apart) loses its
    queue and goes on from a container of its own, at the packet where it was, so every reader gets
    exactly the packets of its stream a demux of that stream alone gives, in the same order.

    Each stream has at most one reader, and only a stream named when the input is made is kept for
    one (:meth:`claim` says whether a reader may read here). Thread-safe: the render reads the picture on one thread and
    the sound on another.
    """

    def __init__(self, path: str | Path, kinds: tuple[str, ...] = ("video", "audio")) -> None:
        """``kinds``: the streams that will have a reader here, the first of each kind ("video",
        "audio"); their packets are kept for their readers from the start."""
        self.path = Path(path)
        self.container = open_media(path)
        streams = self.container.streams
        self._wanted = {getattr(streams, kind)[0].index for kind in kinds if getattr(streams, kind)}
        self._queues: dict[int, collections.deque] = {i: collections.deque() for i in self._wanted}
        self._queued = dict.fromkeys(self._wanted, 0)  # bytes waiting per stream
        self._claimed: set[int] = set()
        self._packets = self.container.demux(*(self.container.streams[i] for i in sorted(self._wanted)))
        self._error: BaseException | None = None
        self._ended = False
        self._lock = threading.Lock()

    def claim(self, stream) -> bool:
        """Whether ``stream`` (one of this container's) can be read from here: it is one of the streams
        kept, it has no reader yet, and none of its packets has gone by unread."""
        with self._lock:
            i = stream.index
            if i not in self._queues or i in self._claimed:
                return False
            self._claimed.add(i)
            return True

    def packets(self, stream):
        """The packets of a :meth:`claim` ed ``stream``, as ``container.demux(stream)`` yields them
        (the empty flush packet last). Closing the iterator lets the stream's packets go by unread."""
        i = stream.index
        delivered = 0
        try:
            while True:
                packet = self._next(i)
                if packet is None:
                    break
                yield packet
                delivered += 1
            if i in self._queues:
                return
            # Left behind (see the class): the rest from a container of its own, as the same stream's
            # packets, so the decoder that has read the first ones reads on.
            with open_media(self.path) as own:
                for n, packet in enumerate(own.demux(own.streams[i])):
                    if n >= delivered:
                        packet.stream = stream
                        yield packet
        finally:
            self._release(i)

    def _next(self, i: int):
        """Stream ``i``'s next packet, reading on (and queueing the other streams') as needed; None at the
        end, or when its queue was dropped."""
        with self._lock:
            while True:
                queue = self._queues.get(i)
                if queue is None:
                    return None
                if queue:
                    packet = queue.popleft()
                    self._queued[i] -= packet.size + _PACKET_OVERHEAD
                    return packet
                if self._error is not None:
                    raise self._error
                if self._ended:
                    return None
                try:
                    packet = next(self._packets)
                except StopIteration:
                    self._ended = True
                    continue
                except BaseException as exc:  # every reader hears of a damaged file, not only the first
                    self._error = exc
                    raise
                j = packet.stream.index
                if j == i:
                    return packet
                if j in self._queues:
                    self._queues[j].append(packet)
                    self._queued[j] += packet.size + _PACKET_OVERHEAD
                    if self._queued[j] > QUEUE_LIMIT:
                        del self._queues[j]  # its reader goes on from its own container

    def _release(self, i: int) -> None:
        with self._lock:
            self._queues.pop(i, None)

    def close(self) -> None:
        """Close the container (the readers' iterators must be finished or closed first)."""
        with self._lock:
            self._queues.clear()
            self._packets.close()
            self.container.close()

    def __enter__(self) -> SharedInput:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
