"""The loopback web app of ``pano-pan view`` (Starlette on uvicorn).

Only this job's files are reachable: every route is a fixed name (the page's assets come from a
whitelist, the video and the generated sound from the session's own paths), so no request path ever
becomes a file path and there is nothing to traverse or list. Video goes through Starlette's
``FileResponse``, which answers ``Range`` requests with 206, so the browser can seek. A guard refuses
any request whose ``Host`` is not this server (DNS rebinding) and any ``Origin`` other than its own,
and requires that ``Origin`` on requests that change something, so a page elsewhere cannot drive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import socket
import threading
import time
import webbrowser
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from common.atomic import owned_temp_dir
from common.errors import UserError
from common.files import parse_json
from pano.run.names import OutputNames
from pano.view.audio import write_view_audio
from pano.view.edit import (
    DEFAULT_HOLD,
    Keyframe,
    Limits,
    apply_keyframes,
    edited_trajectory,
    recorded_keyframes,
    trajectory_cuts,
)
from pano.view.job import Job
from pano.view.strip import foa_strip, read_strip, strip_image, strip_path_for

STATIC = {  # URL name -> (package file, media type)
    "app.js": ("app.js", "text/javascript; charset=utf-8"),
    "style.css": ("style.css", "text/css; charset=utf-8"),
}
MAX_BODY = 1 << 20
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _asset(name: str) -> bytes:
    return resources.files("pano.view").joinpath("static", name).read_bytes()


class _Cancelled(Exception):
    pass


class RenderJob:
    """``pano-pan render`` of the last saved edit, on a background thread, with progress and cancel."""

    def __init__(self) -> None:
        self.state = "idle"  # idle | running | done | error | cancelled
        self.done = 0
        self.total = 0
        self.message = ""
        self.output: Path | None = None
        self.started = 0.0
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None

    def status(self) -> dict[str, Any]:
        return {"state": self.state, "done": self.done, "total": self.total, "message": self.message,
                "output": str(self.output) if self.output else None,
                "elapsed": round(time.monotonic() - self.started, 1) if self.started else 0.0}

    @contextlib.contextmanager
    def _progress(self, _name: str, total: int) -> Iterator[Callable[[int], None]]:
        self.total, self.done = int(total), 0

        def advance(n: int) -> None:
            if self._cancel.is_set():
                raise _Cancelled()
            self.done += n

        yield advance

    def start(self, job: Job, trajectory: Path, output: Path) -> None:
        """Render ``trajectory`` to ``output`` after the checks of ``pano-pan render`` (refusals raise here)."""
        from pano.rendering.render import render_trajectory, reserve_render

        if self.state == "running":
            raise UserError("a render is already running; wait for it or cancel it")
        traj, outputs = reserve_render(job.video, trajectory, output)
        self.state, self.message, self.output, self.started = "running", "", output, time.monotonic()
        self.done, self.total = 0, len(traj)
        self._cancel.clear()

        def work() -> None:
            try:
                with outputs:
                    render_trajectory(job.video, traj, output, progress=self._progress, origin=str(trajectory))
                self.state, self.message = "done", f"wrote {output}"
            except _Cancelled:
                self.state, self.message = "cancelled", "cancelled; no partial video was kept"
            except UserError as exc:
                self.state, self.message = "error", str(exc)
            except Exception as exc:  # noqa: BLE001 - shown in the page, not lost in a thread
                self.state, self.message = "error", f"{type(exc).__name__}: {exc}"

        self._thread = threading.Thread(target=work, name="pano-pan-view-render", daemon=True)
        self._thread.start()

    def cancel(self, wait: bool = False) -> None:
        self._cancel.set()
        if wait and self._thread is not None:
            self._thread.join()


class Session:
    """Everything the routes share: the job, the session's edits, the strip, the sound and the render job.

    Edits are never lost or rewritten behind a page's back: Save rewrites only the edit this session
    wrote last, only when the page says it has that edit open, and only while no render of it has
    started (a rendered edit is frozen, so the video beside it stays its render); any other Save takes
    the next free ``edit-N``. A reloaded page reopens the session's latest edit.
    """

    def __init__(self, job: Job, workdir: Path) -> None:
        self.job = job
        self.workdir = workdir
        self.saved: Path | None = None  # the latest edit this session wrote
        self.saved_keyframes: list[Keyframe] = []
        self._saved_stamp: tuple[int, int] | None = None  # (mtime, size) as written: changed = not ours
        self.frozen: set[Path] = set()  # edits a render was started from
        self.render = RenderJob()
        self.strip: np.ndarray | None = None
        self.strip_state = "none"
        self.strip_note = ""
        self.audio: dict[int, Path] = {}
        self._audio_lock = threading.Lock()
        self._audio_version = 0
        self.limits = Limits.of(job.base)

    # --- saliency strip
    def start_strip(self) -> None:
        job = self.job
        prefix = job.trajectory_path.with_name(job.stem)
        sidecar = read_strip(strip_path_for(prefix), len(job.base))
        if sidecar is not None:
            self.strip, self.strip_state = sidecar, "ready"
            self.strip_note = f"saliency from {strip_path_for(prefix).name}"
            return
        if not job.info.is_foa:
            self.strip_state = "none"
            self.strip_note = (f"no saliency strip: run 'pano-pan {job.video.name} -o {job.trajectory_path.parent} "
                               f"--export strip' to write {strip_path_for(prefix).name}")
            return
        self.strip_state, self.strip_note = "computing", "computing the saliency strip from the ambisonic track"

        def work() -> None:
            try:
                self.strip = foa_strip(job.info, np.asarray(job.base.t))
                self.strip_state, self.strip_note = "ready", "saliency recomputed from the ambisonic track"
            except Exception as exc:  # noqa: BLE001 - the page shows it; the viewer works without a strip
                self.strip_state, self.strip_note = "none", f"no saliency strip ({exc})"

        threading.Thread(target=work, name="pano-pan-view-strip", daemon=True).start()

    # --- view-following sound
    def make_audio(self, yaw: np.ndarray) -> int:
        with self._audio_lock:
            self._audio_version += 1
            version = self._audio_version
        path = self.workdir / f"view-audio-{version}.wav"
        write_view_audio(self.job.info, np.asarray(self.job.base.t), yaw, path)
        with self._audio_lock:
            self.audio[version] = path
            for old in [v for v in self.audio if v < version - 2]:  # the page may still be playing the last one
                with contextlib.suppress(OSError):
                    self.audio.pop(old).unlink()
        return version

    # --- what the page shows, and saving
    def describe(self) -> dict[str, Any]:
        """The job as the page reads it at load: the source, the automatic path, the keyframes shown."""
        job, limits = self.job, self.limits
        base, inf = job.base, job.info
        keyframes = self.saved_keyframes if self.saved else recorded_keyframes(job.trajectory)
        shown = apply_keyframes(base, keyframes, limits) if self.saved or job.trajectory is not base else None
        return {
            "video": job.video.name,
            "trajectory": job.trajectory_path.name,
            "edit": self.saved.name if self.saved else None,  # the session's latest edit, reopened
            "source": {"width": inf.width, "height": inf.height, "fps": inf.fps, "duration": inf.duration,
                       "frames": len(base), "foa": inf.is_foa, "audio_format": inf.audio_format,
                       "has_audio": inf.has_audio},
            "output": {"width": job.out_size[0], "height": job.out_size[1]},
            "generator": {k: base.generator.get(k) for k in ("localizer", "planner")},
            "limits": {"max_speed": limits.max_speed, "max_accel": limits.max_accel},
            "hold": DEFAULT_HOLD,
            "auto": {
                "t": np.round(base.t, 6).tolist(),
                "yaw": np.round(base.yaw, 3).tolist(),
                "pitch": np.round(base.pitch, 3).tolist(),
                "hfov": np.round(base.hfov, 3).tolist(),
                "vfov": np.round(base.vfov, 3).tolist(),
                "roll": np.round(base.roll, 3).tolist(),
                "cuts": np.nonzero(trajectory_cuts(base))[0].tolist(),
                "confidence": np.round(base.confidence, 3).tolist(),
            },
            "keyframes": [k.to_dict() for k in keyframes],
            "edited": shown.to_json() if shown is not None else None,
            "audio_note": (
                "FOA source: the page plays the same view-following stereo as the NFOV output (two "
                "virtual cardioids at ±90° of the camera), re-made after each edit"
                if inf.is_foa else
                ("the source's own sound track, as the NFOV output keeps it" if inf.has_audio else "no sound")
            ),
        }

    def base_name(self) -> str:
        """The file name of the automatic path an edit records as ``edited_from``."""
        job = self.job
        if job.base is job.trajectory:
            return job.trajectory_path.name
        return job.trajectory_path.with_name(str(job.trajectory.generator["params"]["edited_from"])).name

    def save(self, keyframes: list[Keyframe], loaded: str | None = None) -> Path:
        """Write the edit made of ``keyframes`` (see the class docstring for which file it goes to).

        ``loaded`` is the name of the edit the page has open (None: the automatic path or an older file).
        """
        job = self.job
        if self._is_open(loaded) and list(keyframes) == self.saved_keyframes:
            return self.saved  # the same edit again (Render twice): nothing to write, no new edit-N
        target = self.saved if self._is_open(loaded) and self.saved not in self.frozen else job.next_edit_path()
        edited = edited_trajectory(job.base, keyframes, apply_keyframes(job.base, keyframes, self.limits),
                                   self.base_name())
        written = edited.save(target)
        st = written.stat()
        self.saved, self.saved_keyframes, self._saved_stamp = written, list(keyframes), (st.st_mtime_ns, st.st_size)
        return written

    def _is_open(self, loaded: str | None) -> bool:
        """Whether the page has the session's latest edit open, as this session wrote it."""
        saved = self.saved
        if saved is None or loaded != saved.name:
            return False
        try:
            st = saved.stat()
        except OSError:
            return False
        return (st.st_mtime_ns, st.st_size) == self._saved_stamp

    def start_render(self) -> None:
        """Render the latest saved edit, which is frozen from now on (a later Save makes a new one)."""
        if self.saved is None:
            raise UserError("save first: Render renders the saved trajectory")
        self.render.start(self.job, self.saved, self.render_output(self.saved))
        self.frozen.add(self.saved)

    def command(self, trajectory: Path, output: Path) -> str:
        def rel(p: Path) -> str:
            try:
                return str(p.resolve().relative_to(Path.cwd().resolve()))
            except ValueError:
                return str(p.resolve())

        return shlex.join(["pano-pan", "render", rel(self.job.video), rel(trajectory), "-o", rel(output)])

    def render_output(self, trajectory: Path) -> Path:
        return OutputNames.of_trajectory(trajectory).nfov


def _keyframes(payload: Any) -> list[Keyframe]:
    if not isinstance(payload, dict) or not isinstance(payload.get("keyframes"), list):
        raise UserError('send {"keyframes": [{"t", "yaw", "pitch", "hfov", "hold"}, ...]}')
    if len(payload["keyframes"]) > 10000:
        raise UserError("too many keyframes")
    return [Keyframe.from_dict(k) for k in payload["keyframes"]]


class _TooLarge(UserError):
    """A request body over :data:`MAX_BODY` (answered 413, before or while it is read, never kept)."""


async def _json(request: Request) -> Any:
    """The request's JSON body, refused on its declared length or as soon as it passes :data:`MAX_BODY`."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise _TooLarge(f"request too large ({int(declared)} bytes; at most {MAX_BODY})")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise _TooLarge(f"request too large (over {MAX_BODY} bytes)")
    return parse_json(bytes(body) or b"{}", "the request", 'send {"keyframes": [...]}')


class Handlers:
    """One method per route, over one :class:`Session`, so each can be read (and tested) on its own."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.job = session.job

    def routes(self) -> list[Route]:
        return [
            Route("/", self.index),
            Route("/static/{name}", self.static),
            Route("/media/video", self.video),
            Route("/media/audio/{version:int}", self.audio),
            Route("/api/job", self.info),
            Route("/api/strip", self.strip_status),
            Route("/api/strip.png", self.strip_png),
            Route("/api/plan", self.plan, methods=["POST"]),
            Route("/api/audio", self.make_audio, methods=["POST"]),
            Route("/api/save", self.save, methods=["POST"]),
            Route("/api/render", self.render_status),
            Route("/api/render", self.render_start, methods=["POST"]),
            Route("/api/render/cancel", self.render_cancel, methods=["POST"]),
        ]

    async def index(self, _request: Request) -> Response:
        return Response(_asset("index.html"), media_type="text/html; charset=utf-8")

    async def static(self, request: Request) -> Response:
        entry = STATIC.get(request.path_params["name"])
        if entry is None:
            return PlainTextResponse("not found", status_code=404)
        return Response(_asset(entry[0]), media_type=entry[1])

    async def video(self, _request: Request) -> Response:
        video = self.job.video
        if not video.is_file():  # moved or deleted while the page is open
            return PlainTextResponse(f"{video.name} is no longer there; put it back and reload the page "
                                     "(edits already saved are kept)", status_code=404)
        return FileResponse(video, media_type="video/mp4")

    async def audio(self, request: Request) -> Response:
        path = self.session.audio.get(request.path_params["version"])
        if path is None or not path.is_file():
            return PlainTextResponse("not found", status_code=404)
        return FileResponse(path, media_type="audio/wav")

    async def info(self, _request: Request) -> Response:
        return JSONResponse(self.session.describe())

    async def plan(self, request: Request) -> Response:
        keyframes = _keyframes(await _json(request))
        path = await asyncio.to_thread(apply_keyframes, self.job.base, keyframes, self.session.limits)
        return JSONResponse(path.to_json())

    async def make_audio(self, request: Request) -> Response:
        if not self.job.info.is_foa:
            return JSONResponse({"error": "the source is not FOA; the page plays its own sound"}, status_code=409)
        keyframes = _keyframes(await _json(request))
        path = await asyncio.to_thread(apply_keyframes, self.job.base, keyframes, self.session.limits)
        version = await asyncio.to_thread(self.session.make_audio, path.yaw)
        return JSONResponse({"url": f"/media/audio/{version}"})

    async def strip_status(self, _request: Request) -> Response:
        return JSONResponse({"state": self.session.strip_state, "note": self.session.strip_note})

    async def strip_png(self, _request: Request) -> Response:
        if self.session.strip is None:
            return PlainTextResponse("no strip", status_code=404)
        png = await asyncio.to_thread(strip_image, self.session.strip)
        return Response(png, media_type="image/png")

    async def save(self, request: Request) -> Response:
        payload = await _json(request)
        keyframes = _keyframes(payload)
        loaded = payload.get("edit") if isinstance(payload.get("edit"), str) else None
        written = await asyncio.to_thread(self.session.save, keyframes, loaded)
        out = self.session.render_output(written)
        return JSONResponse({"path": str(written), "name": written.name,
                             "command": self.session.command(written, out), "output": str(out)})

    async def render_start(self, _request: Request) -> Response:
        if self.session.saved is None:
            return JSONResponse({"error": "save first: Render renders the saved trajectory"}, status_code=409)
        self.session.start_render()
        return JSONResponse(self.session.render.status())

    async def render_status(self, _request: Request) -> Response:
        return JSONResponse(self.session.render.status())

    async def render_cancel(self, _request: Request) -> Response:
        self.session.render.cancel()
        return JSONResponse(self.session.render.status())


async def _user_error(_request: Request, exc: Exception) -> Response:
    # Connection: close after a refused body, so the server does not read the rest of it to reuse the link.
    if isinstance(exc, _TooLarge):
        return JSONResponse({"error": str(exc)}, status_code=413, headers={"connection": "close"})
    return JSONResponse({"error": str(exc)}, status_code=400)


def build_app(session: Session, port: int, lifespan=None) -> _Guard:
    """The Starlette app of :class:`Handlers`, behind the Host/Origin :class:`_Guard`."""
    allowed_hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
    allowed_origins = {f"http://{h}" for h in allowed_hosts}
    app = Starlette(routes=Handlers(session).routes(), exception_handlers={UserError: _user_error},
                    lifespan=lifespan)
    return _Guard(app, allowed_hosts, allowed_origins)


class _Guard:
    """ASGI wrapper: only our own Host and Origin; security headers on every response."""

    def __init__(self, app, hosts: set[str], origins: set[str]) -> None:
        self.app, self.hosts, self.origins = app, hosts, origins

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "websocket":  # the app has none; refuse rather than let anything through
            return await send({"type": "websocket.close", "code": 1008})
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host, origin = headers.get("host", ""), headers.get("origin")
        unsafe = scope["method"] not in ("GET", "HEAD")
        if host not in self.hosts:
            reason = f"refused: Host {host!r} is not this server"
        elif origin is not None and origin not in self.origins:
            reason = f"refused: Origin {origin!r} is not this server"
        elif unsafe and origin is None:
            reason = "refused: a request that changes something must come from the page (no Origin)"
        else:
            reason = None
        if reason is not None:
            return await PlainTextResponse(reason, status_code=403)(scope, receive, send)

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                         (b"content-security-policy", CSP.encode()), (b"cache-control", b"no-store"),
                         (b"cross-origin-resource-policy", b"same-origin")]
                message = dict(message, headers=list(message.get("headers", [])) + extra)
            await send(message)

        return await self.app(scope, receive, send_with_headers)


def bind(port: int = 0) -> socket.socket:
    """A listening socket on 127.0.0.1 (loopback only); port 0 = a free one."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if os.name != "nt":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", int(port)))
    except OSError as exc:
        sock.close()
        raise UserError(f"port {port}: cannot listen on 127.0.0.1 ({exc.strerror}); choose another with --port "
                        "or leave it out for a free one") from None
    sock.listen(64)
    return sock


class ViewServer:
    """One job served on 127.0.0.1: ``run()`` blocks until Ctrl-C; ``start()``/``stop()`` run it on a thread."""

    def __init__(self, job: Job, port: int = 0, open_browser: bool = False,
                 on_ready: Callable[[str], None] | None = None) -> None:
        import uvicorn

        self.sock = bind(port)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self._tmp = owned_temp_dir("pano-pan-view-")  # a killed viewer's sound files go at the next start
        self.session = Session(job, Path(self._tmp.name))
        self.session.start_strip()
        self._thread: threading.Thread | None = None
        url = self.url

        @contextlib.asynccontextmanager
        async def lifespan(_app):
            if on_ready:
                on_ready(url)
            if open_browser:
                threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
            yield

        app = build_app(self.session, self.port, lifespan)
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                                                    timeout_graceful_shutdown=2))

    def run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.close()

    def start(self) -> ViewServer:
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                        name="pano-pan-view-server", daemon=True)
        self._thread.start()
        while not self.server.started and self._thread.is_alive():
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join()
        self.close()

    def close(self) -> None:
        """Cancel a running render (its partial video is removed) and delete the generated sound."""
        self.session.render.cancel(wait=True)
        self.sock.close()
        self._tmp.cleanup()


def serve(job: Job, port: int = 0, open_browser: bool = True,
          on_ready: Callable[[str], None] | None = None) -> None:
    """Serve until Ctrl-C (or SIGTERM)."""
    ViewServer(job, port, open_browser, on_ready).run()
