"""`pano-pan view` in a real browser: Debian's headless Chromium driven by Selenium.

Skipped only when the system Chromium (or its driver, or Selenium) is absent; `.ci/run` installs them.
"""

import base64
import shutil
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from cli.main import main
from clips import foa_clip
from pano.media.video import iter_frames
from pano.paths.trajectory import Trajectory
from pano.rendering.nfov import NFOVRenderer
from pano.view.job import open_job
from pano.view.server import ViewServer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[dev]')")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="no system Chromium: apt-get install -y chromium chromium-driver (CI's .ci/run does)",
)
DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo360.mp4"


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--mute-audio",
                "--autoplay-policy=no-user-gesture-required", "--use-angle=swiftshader",
                "--enable-unsafe-swiftshader", "--window-size=1280,800"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    yield driver
    driver.quit()


def textured_background(height: int, width: int, seed: int = 3) -> np.ndarray:
    """Smooth random colours, different everywhere and continuous across the seam: any sign or frame
    error in the view shows a different picture."""
    rng = np.random.default_rng(seed)
    noise = rng.random((height, width * 3, 3)).astype(np.float32)
    noise[:, width:2 * width] = noise[:, :width] = noise[:, 2 * width:]
    smooth = cv2.GaussianBlur(noise, (0, 0), 6)[:, width:2 * width]
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return (smooth * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def clip_job(tmp_path_factory):
    """A 2 s FOA clip whose sound moves right and up, run through the pipeline; an unknown key added."""
    folder = tmp_path_factory.mktemp("view-browser")
    video = foa_clip(folder / "scene.mp4", seconds=2.0, yaw=lambda t: 50.0 + 40.0 * t, pitch=25.0,
                     background=textured_background(240, 480))
    assert main([str(video), "-o", str(folder), "-q", "--no-saliency-video"]) == 0
    traj_path = folder / "scene.trajectory.json"
    traj = Trajectory.load(traj_path)
    traj.extra["x_review"] = {"by": "test"}
    traj.save(traj_path)
    return folder


def open_page(browser, folder: Path, trajectory: Path | None = None) -> ViewServer:
    srv = ViewServer(open_job(folder, trajectory)).start()
    browser.get(srv.url)
    wait(browser, lambda s: s["loadMs"] is not None and s["drawn"] is not None)
    return srv


def state(browser) -> dict:
    return browser.execute_script("return window.panoView.state()")


def wait(browser, cond, timeout: float = 20.0) -> dict:
    end = time.monotonic() + timeout
    while True:
        s = state(browser)
        if cond(s):
            return s
        if time.monotonic() > end:
            raise AssertionError(f"page did not reach the expected state; last state {s}")
        time.sleep(0.05)


def paused_frame(browser, index: int) -> np.ndarray:
    browser.execute_script(f"window.panoView.seekFrame({index})")
    wait(browser, lambda s: s["paused"] and s["drawn"] and s["drawn"]["frame"] == index)
    url = browser.execute_script("return window.panoView.snapshot()")
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(base64.b64decode(url.split(",", 1)[1]), np.uint8),
                                     cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0**2 / max(mse, 1e-9))


def test_the_demo_loads_and_plays_with_its_view_following_sound(browser, tmp_path):
    assert main([str(DEMO), "-o", str(tmp_path), "-q", "--no-saliency-video"]) == 0
    shutil.copy(DEMO, tmp_path / DEMO.name)  # the trajectory names its video; beside it is where view looks
    srv = open_page(browser, tmp_path)
    try:
        first = state(browser)
        assert "demo360.mp4" in browser.find_element("id", "files").text
        browser.find_element("id", "play").click()
        # the camera holds a still shot until the ball leaves its safe zone (~1 s), then follows it
        s = wait(browser, lambda s: not s["paused"] and s["drawn"]["frame"] >= 60 and s["sound"])
        assert s["sound"].startswith(srv.url + "media/audio/")  # FOA: the view-following stereo plays
        assert browser.execute_script("return document.getElementById('sound').paused") is False
        assert browser.execute_script("return document.getElementById('video').muted") is True
        assert s["drawn"]["yaw"] != first["drawn"]["yaw"]  # the view follows the path as it plays
        wait(browser, lambda s: "ambisonic" in browser.find_element("id", "stripnote").text)
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
        print(f"page load to first frame: {first['loadMs']:.0f} ms")
    finally:
        browser.execute_script("document.getElementById('video').pause()")
        srv.stop()


def test_paused_view_matches_the_nfov_frame(browser, clip_job):
    """The WebGL view at frame i against frame i of <stem>.nfov.mp4: the sign conventions end to end.

    Both are lossy (Chromium's H.264 decode + GPU bilinear sampling vs PyAV + cv2.remap + a crf-20
    re-encode), which costs a few dB; a mirrored yaw or pitch, or a view a few frames off, shows other
    parts of the textured scene and loses far more (the Measured: ~38 dB for the match, ≤ 16 dB for the
    controls; the thresholds (28 dB, and ≥ 10 dB above every control) sit between with room on both sides.
    """
    traj = Trajectory.load(clip_job / "scene.trajectory.json")
    srv = open_page(browser, clip_job)
    try:
        index = 40
        page = paused_frame(browser, index)
    finally:
        srv.stop()
    nfov = next(rgb for i, _t, rgb in iter_frames(clip_job / "scene.nfov.mp4") if i == index)
    source = next(rgb for i, _t, rgb in iter_frames(clip_job / "scene.mp4") if i == index)
    assert page.shape == nfov.shape
    yaw, pitch = float(traj.yaw[index]), float(traj.pitch[index])
    assert abs(yaw) > 30 and abs(pitch) > 5  # so that a sign error would show
    h, w = nfov.shape[:2]
    render = NFOVRenderer(source.shape[1], source.shape[0], w, h, float(traj.hfov[index]), float(traj.vfov[index]))
    controls = {
        "yaw mirrored": psnr(page, render.render(source, -yaw, pitch)),
        "pitch mirrored": psnr(page, render.render(source, yaw, -pitch)),
        "frame + 8": psnr(page, next(rgb for i, _t, rgb in iter_frames(clip_job / "scene.nfov.mp4")
                                     if i == index + 8)),
    }
    match = psnr(page, nfov)
    print(f"WebGL view vs NFOV frame {index}: {match:.1f} dB; controls {controls}")
    assert match >= 28.0
    assert match - max(controls.values()) >= 10.0


def test_drag_sets_a_keyframe_and_save_writes_a_trajectory_render_accepts(browser, clip_job, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains

    srv = open_page(browser, clip_job)
    try:
        paused_frame(browser, 15)
        before = state(browser)["drawn"]
        canvas = browser.find_element("id", "view")
        drag = ActionChains(browser).move_to_element(canvas).click_and_hold()
        for _ in range(6):
            drag = drag.move_by_offset(-20, 10)
        drag.release().perform()
        s = wait(browser, lambda s: len(s["keyframes"]) == 1 and s["planned"] >= 1)
        key = s["keyframes"][0]
        # Dragging left brings the right into view (yaw grows); dragging down looks up.
        assert key["yaw"] > before["yaw"] + 5 and key["pitch"] > before["pitch"] + 2
        assert key["t"] == pytest.approx(15 / 30, abs=1e-3)
        s = wait(browser, lambda s: s["drawn"]["frame"] == 15 and abs(s["drawn"]["yaw"] - key["yaw"]) < 0.01)
        assert len(browser.find_elements("css selector", "#keys tbody tr")) == 1

        browser.find_element("id", "save").click()
        s = wait(browser, lambda s: s["saved"] is not None)
        saved = Path(s["saved"]["path"])
        assert saved.name == "scene.edit-1.trajectory.json" and saved.parent == clip_job
        assert s["saved"]["command"].startswith("pano-pan render ")
        assert s["saved"]["command"] in browser.find_element("id", "command").text
        edited = Trajectory.load(saved)
        assert edited.extra["x_review"] == {"by": "test"}  # unknown keys kept
        assert edited.generator["params"]["keyframes"][0]["yaw"] == pytest.approx(key["yaw"], abs=1e-3)
        assert edited.yaw[15] == pytest.approx(key["yaw"], abs=1e-3)
        assert main(["render", str(clip_job / "scene.mp4"), str(saved), "-o", str(tmp_path / "cli.mp4"), "-q"]) == 0
        assert sum(1 for _ in iter_frames(tmp_path / "cli.mp4")) == 60

        browser.find_element("id", "render").click()  # the same render, in the background, with progress
        s = wait(browser, lambda s: s["render"] and s["render"]["state"] not in ("running", "idle"), timeout=60)
        assert s["render"]["state"] == "done", s["render"]["message"]
        assert s["render"]["done"] == s["render"]["total"] == 60
        out = Path(s["render"]["output"])
        assert out.name == "scene.edit-1.nfov.mp4" and sum(1 for _ in iter_frames(out)) == 60
    finally:
        srv.stop()


def test_keyframes_move_on_the_timeline_delete_from_the_list_and_r_returns_to_the_automatic_path(browser, clip_job):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    srv = open_page(browser, clip_job)
    try:
        auto = Trajectory.load(clip_job / "scene.trajectory.json")
        paused_frame(browser, 10)
        canvas = browser.find_element("id", "view")
        ActionChains(browser).move_to_element(canvas).click_and_hold().move_by_offset(60, 0).release().perform()
        key = wait(browser, lambda s: len(s["keyframes"]) == 1)["keyframes"][0]
        assert key["yaw"] < float(auto.yaw[10]) - 5  # dragging right looks left
        # Move it: drag its marker on the timeline's keyframe lane to the right.
        timeline = browser.find_element("id", "timeline")
        width = timeline.size["width"]
        x_of = lambda t: 34 + t / 2.0 * (width - 40) - width / 2  # noqa: E731 - TL.left/right in app.js
        lane = 146 - timeline.size["height"] / 2
        ActionChains(browser).move_to_element_with_offset(timeline, round(x_of(key["t"])), round(lane)) \
            .click_and_hold().move_by_offset(round(0.5 / 2.0 * (width - 40)), 0).release().perform()
        moved = wait(browser, lambda s: s["keyframes"] and s["keyframes"][0]["t"] > key["t"] + 0.3)["keyframes"][0]
        assert moved["yaw"] == key["yaw"]
        # R at the keyframe's frame drops it: back to the automatic path.
        browser.execute_script(f"window.panoView.seekFrame({round(moved['t'] * 30)})")
        wait(browser, lambda s: s["drawn"]["frame"] == round(moved["t"] * 30))
        canvas.send_keys("r")
        wait(browser, lambda s: s["keyframes"] == [])
        wait(browser, lambda s: abs(s["drawn"]["yaw"] - float(auto.yaw[s["drawn"]["frame"]])) < 0.01)
        # Delete from the list.
        ActionChains(browser).move_to_element(canvas).click_and_hold().move_by_offset(0, 40).release().perform()
        wait(browser, lambda s: len(s["keyframes"]) == 1)
        browser.find_element("css selector", "#keys tbody .del").click()
        wait(browser, lambda s: s["keyframes"] == [])
        canvas.send_keys(Keys.SPACE)  # space plays
        wait(browser, lambda s: not s["paused"])
        canvas.send_keys(Keys.SPACE)
        wait(browser, lambda s: s["paused"])
    finally:
        srv.stop()


def test_a_reloaded_page_reopens_the_saved_edit_and_saves_back_to_it(browser, clip_job, tmp_path):
    """Issue 23 item 3 in the page: after a reload the edit is on screen, and Save rewrites that edit."""
    from pano.view.edit import Keyframe

    folder = Path(shutil.copytree(clip_job, tmp_path / "job", ignore=shutil.ignore_patterns("*.edit-*")))
    srv = open_page(browser, folder)
    try:
        saved = srv.session.save([Keyframe(t=0.5, yaw=-20.0, pitch=5.0, hfov=65.5, hold=10.0)])  # an earlier page
        browser.refresh()
        s = wait(browser, lambda s: s["loadMs"] is not None and s["drawn"] is not None)
        assert [round(k["yaw"], 3) for k in s["keyframes"]] == [-20.0]
        assert f"reopened {saved.name}" in browser.find_element("id", "savedname").text
        browser.find_element("id", "save").click()
        s = wait(browser, lambda s: s["saved"] is not None)
        assert s["saved"]["name"] == saved.name == "scene.edit-1.trajectory.json"
        assert sorted(p.name for p in folder.glob("*.edit-*")) == [saved.name]
    finally:
        srv.stop()
