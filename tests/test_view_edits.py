"""The viewer never loses or replaces a file: its Render obeys `pano-pan render`'s rules, a rendered
edit is frozen, and a reloaded page reopens the session's edit instead of overwriting it (issue 23)."""

import http.client
import json
import shutil
import time

import pytest

from cli.main import main
from clips import foa_clip
from common.errors import OutputError
from pano.paths.trajectory import Trajectory
from pano.view.job import open_job
from pano.view.server import ViewServer

KEY = {"t": 0.5, "yaw": -30.0, "pitch": 5.0, "hfov": 65.5, "hold": 10}


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("view-edits")
    video = foa_clip(folder / "clip.mp4", seconds=1.0, yaw=45.0)
    assert main([str(video), "-o", str(folder), "-q", "--no-saliency-video"]) == 0
    return folder


@pytest.fixture
def folder(run_folder, tmp_path):
    shutil.copytree(run_folder, tmp_path / "job")
    return tmp_path / "job"


def call(srv, method, path, payload=None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    own = f"127.0.0.1:{srv.port}"
    body = json.dumps(payload).encode() if payload is not None else None
    headers = {"Host": own, "Origin": f"http://{own}", "Content-Type": "application/json"}
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = json.loads(resp.read() or b"null")
    conn.close()
    return resp.status, data


def wait_render(srv):
    for _ in range(600):
        status, state = call(srv, "GET", "/api/render")
        if state["state"] != "running":
            return state
        time.sleep(0.05)
    raise AssertionError("the render did not finish")


def test_render_takes_the_next_free_name_instead_of_replacing_a_users_file(folder):
    """Item 1: a user's own file at <stem>.edit-1.nfov.mp4 is left alone."""
    mine = folder / "clip.edit-1.nfov.mp4"
    mine.write_bytes(b"my holiday video")
    srv = ViewServer(open_job(folder)).start()
    try:
        status, saved = call(srv, "POST", "/api/save", {"keyframes": [KEY]})
        assert status == 200 and saved["name"] == "clip.edit-2.trajectory.json"
        assert saved["output"].endswith("clip.edit-2.nfov.mp4")
        call(srv, "POST", "/api/render", {})
        assert wait_render(srv)["state"] == "done"
    finally:
        srv.stop()
    assert mine.read_bytes() == b"my holiday video"
    assert (folder / "clip.edit-2.nfov.mp4").stat().st_size > 1000


def test_render_never_replaces_its_own_input(folder):
    """Item 1: a source video that carries the render's name (demo.edit-1.nfov.mp4) is not rendered over."""
    video = folder / "clip.edit-1.nfov.mp4"
    (folder / "clip.mp4").rename(video)
    before = video.read_bytes()
    job = open_job(video, folder / "clip.trajectory.json")
    assert job.next_edit_path().name == "clip.edit-2.trajectory.json"
    srv = ViewServer(job).start()
    try:
        with pytest.raises(OutputError, match="would replace the input"):
            srv.session.render.start(job, folder / "clip.trajectory.json", video)
        status, saved = call(srv, "POST", "/api/save", {"keyframes": [KEY]})
        assert saved["name"] == "clip.edit-2.trajectory.json"
        assert "-o clip.edit-1.nfov.mp4" not in saved["command"]
        call(srv, "POST", "/api/render", {})
        assert wait_render(srv)["state"] == "done"
    finally:
        srv.stop()
    assert video.read_bytes() == before


def test_save_after_a_render_started_makes_a_new_edit(folder):
    """Item 2: the edit a render was made from is never rewritten, so the video beside it is its render."""
    srv = ViewServer(open_job(folder)).start()
    try:
        _, first = call(srv, "POST", "/api/save", {"keyframes": [KEY]})
        call(srv, "POST", "/api/render", {})
        _, second = call(srv, "POST", "/api/save", {"keyframes": [dict(KEY, yaw=100.0)], "edit": first["name"]})
        wait_render(srv)
    finally:
        srv.stop()
    assert first["name"] == "clip.edit-1.trajectory.json" and second["name"] == "clip.edit-2.trajectory.json"
    rendered = Trajectory.load(folder / first["name"])
    assert rendered.generator["params"]["keyframes"][0]["yaw"] == pytest.approx(-30.0)


def test_a_reloaded_page_reopens_the_saved_edit_and_a_stale_page_never_overwrites_it(folder):
    """Item 3: reload shows the edit; a Save from a page that did not load it writes a new edit."""
    srv = ViewServer(open_job(folder)).start()
    try:
        _, first = call(srv, "POST", "/api/save", {"keyframes": [KEY]})
        _, again = call(srv, "POST", "/api/save", {"keyframes": [KEY, dict(KEY, t=0.8)], "edit": first["name"]})
        assert again["name"] == first["name"]  # the page that has the edit open keeps saving to it
        _, job = call(srv, "GET", "/api/job")  # a reload
        assert job["edit"] == first["name"] and len(job["keyframes"]) == 2
        assert job["edited"]["yaw"][15] == pytest.approx(-30.0, abs=0.5)
        _, stale = call(srv, "POST", "/api/save", {"keyframes": [dict(KEY, yaw=90.0)]})  # loaded before the save
    finally:
        srv.stop()
    assert stale["name"] == "clip.edit-2.trajectory.json"
    assert len(Trajectory.load(folder / first["name"]).generator["params"]["keyframes"]) == 2


def test_a_video_deleted_while_served_is_a_404_that_says_so(folder):
    """Item 11: a 500 with a traceback before."""
    srv = ViewServer(open_job(folder)).start()
    try:
        (folder / "clip.mp4").unlink()
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        conn.request("GET", "/media/video", headers={"Host": f"127.0.0.1:{srv.port}"})
        resp = conn.getresponse()
        body = resp.read().decode()
        conn.close()
    finally:
        srv.stop()
    assert resp.status == 404 and "clip.mp4 is no longer there" in body


def test_render_twice_without_a_change_renders_the_same_edit_again(folder):
    """A frozen edit makes Save write a new edit-N only when the keyframes changed."""
    srv = ViewServer(open_job(folder)).start()
    try:
        _, first = call(srv, "POST", "/api/save", {"keyframes": [KEY]})
        call(srv, "POST", "/api/render", {})
        assert wait_render(srv)["state"] == "done"
        _, again = call(srv, "POST", "/api/save", {"keyframes": [KEY], "edit": first["name"]})
        status, _ = call(srv, "POST", "/api/render", {})
        state = wait_render(srv)
    finally:
        srv.stop()
    assert again["name"] == first["name"] and status == 200 and state["state"] == "done", state
    assert sorted(p.name for p in folder.glob("*.edit-*")) == ["clip.edit-1.nfov.mp4", "clip.edit-1.trajectory.json"]
