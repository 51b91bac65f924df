"""The `pano-pan view` server over real HTTP: range requests, only this job's files, only its own origin."""

import http.client
import json

import pytest

from cli.main import main
from clips import foa_clip
from pano.view.job import open_job
from pano.view.server import ViewServer


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("view-server")
    video = foa_clip(folder / "clip.mp4", seconds=1.0, yaw=45.0)
    assert main([str(video), "-o", str(folder), "-q", "--no-saliency-video"]) == 0
    srv = ViewServer(open_job(folder)).start()
    yield srv
    srv.stop()


def request(srv, method, path, headers=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)  # the path goes out as written
    headers = {"Host": f"127.0.0.1:{srv.port}", **(headers or {})}
    if body is not None:
        headers.setdefault("Content-Type", "application/json")
        headers["Content-Length"] = str(len(body))
    for k, v in headers.items():
        conn.putheader(k, v)
    conn.endheaders(body.encode() if body is not None else None)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp, data


def test_video_is_served_with_range_requests(server):
    whole, data = request(server, "GET", "/media/video")
    assert whole.status == 200 and whole.getheader("Accept-Ranges") == "bytes"
    part, chunk = request(server, "GET", "/media/video", {"Range": "bytes=100-199"})
    assert part.status == 206
    assert part.getheader("Content-Range") == f"bytes 100-199/{len(data)}"
    assert chunk == data[100:200]


def test_the_page_and_its_assets_load(server):
    page, html = request(server, "GET", "/")
    assert page.status == 200 and b"/static/app.js" in html
    assert "default-src 'none'" in page.getheader("Content-Security-Policy")
    js, _ = request(server, "GET", "/static/app.js")
    assert js.status == 200 and js.getheader("Content-Type").startswith("text/javascript")
    job = json.loads(request(server, "GET", "/api/job")[1])
    assert job["source"]["frames"] == 30 and job["source"]["foa"] is True


@pytest.mark.parametrize("path", [
    "/static/../../../../etc/passwd",
    "/static/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/static/%2e%2e/server.py",
    "/static/",
    "/media/",
    "/media/clip.mp4",
    "/media/audio/..%2F..%2Fclip.mp4",
    "/media/../clip.trajectory.json",
])
def test_no_traversal_and_no_listing(server, path):
    resp, body = request(server, "GET", path)
    assert resp.status == 404
    assert b"root:" not in body and b"samples" not in body


def test_a_foreign_host_or_origin_is_refused(server):
    own = f"http://127.0.0.1:{server.port}"
    rebound, body = request(server, "GET", "/api/job", {"Host": "attacker.example"})
    assert rebound.status == 403 and b"Host" in body
    foreign, body = request(server, "POST", "/api/save", {"Origin": "http://attacker.example"}, '{"keyframes": []}')
    assert foreign.status == 403 and b"Origin" in body
    no_origin, _ = request(server, "POST", "/api/save", {}, '{"keyframes": []}')
    assert no_origin.status == 403
    assert not list(server.session.job.trajectory_path.parent.glob("*.edit-*"))  # nothing was written
    plan, body = request(server, "POST", "/api/plan", {"Origin": own}, '{"keyframes": []}')
    assert plan.status == 200 and len(json.loads(body)["yaw"]) == 30


def test_bad_keyframes_get_a_clear_400(server):
    own = f"http://127.0.0.1:{server.port}"
    resp, body = request(server, "POST", "/api/plan", {"Origin": own}, '{"keyframes": [{"t": 0}]}')
    assert resp.status == 400 and "keyframe" in json.loads(body)["error"]


def test_the_command_prints_its_url_serves_and_stops_cleanly_on_ctrl_c(server):
    import signal
    import subprocess
    import sys
    import urllib.request

    folder = server.session.job.trajectory_path.parent
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "view", str(folder), "--no-browser"],
                            stderr=subprocess.PIPE, text=True)
    try:
        url = None
        for line in proc.stderr:
            if line.startswith("open http://127.0.0.1:"):
                url = line.split()[1]
                break
        assert url is not None
        with urllib.request.urlopen(url + "api/job", timeout=10) as resp:
            assert json.loads(resp.read())["trajectory"] == "clip.trajectory.json"
        proc.send_signal(signal.SIGINT)
        rest = proc.stderr.read()
        assert proc.wait(timeout=20) == 0
        assert "stopped" in rest and "Traceback" not in rest
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_mono_source_plays_its_own_sound_and_takes_the_strip_the_run_exported(tmp_path):
    from clips import mono_pulse_clip

    video = mono_pulse_clip(tmp_path / "mono.mp4", seconds=2.0)
    assert main([str(video), "-o", str(tmp_path), "-q", "--no-saliency-video", "--export", "strip"]) == 0
    assert (tmp_path / "mono.strip.png").is_file()
    srv = ViewServer(open_job(video, tmp_path / "mono.trajectory.json")).start()
    try:
        own = {"Origin": f"http://127.0.0.1:{srv.port}"}
        job = json.loads(request(srv, "GET", "/api/job")[1])
        assert job["source"]["foa"] is False and "own sound track" in job["audio_note"]
        resp, body = request(srv, "POST", "/api/audio", own, '{"keyframes": []}')
        assert resp.status == 409
        strip = json.loads(request(srv, "GET", "/api/strip")[1])
        assert strip == {"state": "ready", "note": "saliency from mono.strip.png"}
        png, data = request(srv, "GET", "/api/strip.png")
        assert png.status == 200 and data[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        srv.stop()


def test_foa_sound_follows_the_edited_view(server):
    """The clip's sound is at yaw 45°; pinned to look at −45° the source is 90° to the right."""
    import io
    import wave

    import numpy as np

    own = {"Origin": f"http://127.0.0.1:{server.port}"}
    body = json.dumps({"keyframes": [{"t": 0, "yaw": -45, "pitch": 0, "hfov": 65.5, "hold": 10}]})
    resp, data = request(server, "POST", "/api/audio", own, body)
    assert resp.status == 200
    url = json.loads(data)["url"]
    part, _ = request(server, "GET", url, {"Range": "bytes=0-43"})
    assert part.status == 206  # seekable like the video
    resp, wav_bytes = request(server, "GET", url)
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        assert wav.getnchannels() == 2 and wav.getframerate() == 48000
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").reshape(-1, 2).astype(float)
    assert len(pcm) / 48000 == pytest.approx(1.0, abs=0.05)
    left, right = np.sqrt((pcm**2).mean(axis=0))
    assert right > 2 * left
