"""The NumPy MTCNN (pano.localizers.faces): its nets equal torch's on the same weights (where torch is
installed), and the pipeline turns the nets' outputs into boxes (torch-free, nets stood in for)."""

from __future__ import annotations

import numpy as np
import pytest

from pano.localizers import faces
from pano.localizers.faces import MTCNN, area_resize, load_weights, max_pool, nms


def _torch_nets():
    torch = pytest.importorskip("torch", reason="torch is not installed: the torch reference is skipped")
    nn = torch.nn
    p = load_weights()

    # facenet-pytorch 2.6.0's PNet / RNet / ONet (MIT, © Tim Esler), as in its models/mtcnn.py
    def seq(net, layers):
        m = nn.Module()
        for name, layer in layers:
            setattr(m, name, layer)
        m.load_state_dict({k[len(net) + 1:]: torch.from_numpy(v) for k, v in p.items() if k.startswith(net + ".")})
        return m.eval()

    pn = seq("pnet", [("conv1", nn.Conv2d(3, 10, 3)), ("prelu1", nn.PReLU(10)), ("conv2", nn.Conv2d(10, 16, 3)),
                      ("prelu2", nn.PReLU(16)), ("conv3", nn.Conv2d(16, 32, 3)), ("prelu3", nn.PReLU(32)),
                      ("conv4_1", nn.Conv2d(32, 2, 1)), ("conv4_2", nn.Conv2d(32, 4, 1))])

    def pnet(x):
        x = pn.prelu1(pn.conv1(x))
        x = nn.functional.max_pool2d(x, 2, 2, ceil_mode=True)
        x = pn.prelu3(pn.conv3(pn.prelu2(pn.conv2(x))))
        return pn.conv4_2(x), torch.softmax(pn.conv4_1(x), 1)[:, 1]

    rn = seq("rnet", [("conv1", nn.Conv2d(3, 28, 3)), ("prelu1", nn.PReLU(28)), ("conv2", nn.Conv2d(28, 48, 3)),
                      ("prelu2", nn.PReLU(48)), ("conv3", nn.Conv2d(48, 64, 2)), ("prelu3", nn.PReLU(64)),
                      ("dense4", nn.Linear(576, 128)), ("prelu4", nn.PReLU(128)), ("dense5_1", nn.Linear(128, 2)),
                      ("dense5_2", nn.Linear(128, 4))])

    def rnet(x):
        mp = nn.functional.max_pool2d
        x = mp(rn.prelu1(rn.conv1(x)), 3, 2, ceil_mode=True)
        x = mp(rn.prelu2(rn.conv2(x)), 3, 2, ceil_mode=True)
        x = rn.prelu3(rn.conv3(x)).permute(0, 3, 2, 1).reshape(len(x), -1)
        x = rn.prelu4(rn.dense4(x))
        return rn.dense5_2(x), torch.softmax(rn.dense5_1(x), 1)[:, 1]

    on = seq("onet", [("conv1", nn.Conv2d(3, 32, 3)), ("prelu1", nn.PReLU(32)), ("conv2", nn.Conv2d(32, 64, 3)),
                      ("prelu2", nn.PReLU(64)), ("conv3", nn.Conv2d(64, 64, 3)), ("prelu3", nn.PReLU(64)),
                      ("conv4", nn.Conv2d(64, 128, 2)), ("prelu4", nn.PReLU(128)), ("dense5", nn.Linear(1152, 256)),
                      ("prelu5", nn.PReLU(256)), ("dense6_1", nn.Linear(256, 2)), ("dense6_2", nn.Linear(256, 4)),
                      ("dense6_3", nn.Linear(256, 10))])

    def onet(x):
        mp = nn.functional.max_pool2d
        x = mp(on.prelu1(on.conv1(x)), 3, 2, ceil_mode=True)
        x = mp(on.prelu2(on.conv2(x)), 3, 2, ceil_mode=True)
        x = mp(on.prelu3(on.conv3(x)), 2, 2, ceil_mode=True)
        x = on.prelu4(on.conv4(x)).permute(0, 3, 2, 1).reshape(len(x), -1)
        x = on.prelu5(on.dense5(x))
        return on.dense6_2(x), on.dense6_3(x), torch.softmax(on.dense6_1(x), 1)[:, 1]

    return torch, pnet, rnet, onet


def test_nets_equal_torch_on_the_same_weights():
    torch, tp, tr, to = _torch_nets()
    p = load_weights()
    rng = np.random.default_rng(0)
    nchw = lambda x: torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))  # noqa: E731
    x = rng.uniform(-1, 1, (2, 37, 51, 3)).astype(np.float32)  # odd sizes: ceil-mode pooling's last window
    reg, prob = faces.pnet(p, x)
    with torch.no_grad():
        treg, tprob = tp(nchw(x))
    np.testing.assert_allclose(reg, treg.permute(0, 2, 3, 1).numpy(), atol=1e-4)
    np.testing.assert_allclose(prob, tprob.numpy(), atol=1e-5)
    x = rng.uniform(-1, 1, (5, 24, 24, 3)).astype(np.float32)
    with torch.no_grad():
        for mine, theirs in zip(faces.rnet(p, x), tr(nchw(x)), strict=True):
            np.testing.assert_allclose(mine, theirs.numpy(), atol=1e-4)
    x = rng.uniform(-1, 1, (5, 48, 48, 3)).astype(np.float32)
    with torch.no_grad():
        for mine, theirs in zip(faces.onet(p, x), to(nchw(x)), strict=True):
            np.testing.assert_allclose(mine, theirs.numpy(), atol=1e-4)


def test_area_resize_and_pool_equal_torch():
    torch = pytest.importorskip("torch", reason="torch is not installed: the torch reference is skipped")
    rng = np.random.default_rng(1)
    img = rng.uniform(0, 255, (31, 45, 3)).astype(np.float32)
    t = torch.from_numpy(img.transpose(2, 0, 1)[None].copy())
    for size in ((24, 24), (13, 19), (48, 48), (62, 90)):
        ref = torch.nn.functional.interpolate(t, size=size, mode="area")[0].permute(1, 2, 0).numpy()
        np.testing.assert_allclose(area_resize(img, size), ref, atol=1e-3)
    x = rng.normal(size=(1, 11, 14, 4)).astype(np.float32)
    ref = torch.nn.functional.max_pool2d(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), 3, 2, ceil_mode=True)
    np.testing.assert_array_equal(max_pool(x, 3, 2), ref.permute(0, 2, 3, 1).numpy())


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [30, 30, 40, 40]], np.float32)
    assert list(nms(boxes, np.array([0.9, 0.95, 0.5]), 0.5)) == [1, 2]
    assert list(nms(boxes, np.array([0.9, 0.95, 0.5]), 0.9)) == [1, 0, 2]


def test_pipeline_returns_the_box_where_the_stood_in_nets_say_face(monkeypatch):
    """Torch-free: P-Net says face at one cell of the first scale; R-Net and O-Net agree with no box
    change: the face comes back as that cell's 12-px window at full scale."""
    m = MTCNN(min_face=12)

    def pnet(x):
        n, h, w, _ = x.shape
        prob = np.zeros((n, (h - 2) // 2 - 4, (w - 2) // 2 - 4), np.float32)
        if w > 150:  # the first (full-size) scale only
            prob[0, 20, 30] = 0.99
        return np.zeros(prob.shape + (4,), np.float32), prob

    monkeypatch.setattr(m, "pnet", pnet)
    monkeypatch.setattr(m, "rnet", lambda x: (np.zeros((len(x), 4)), np.full(len(x), 0.98)))
    monkeypatch.setattr(m, "onet", lambda x: (np.zeros((len(x), 4)), np.zeros((len(x), 10)), np.full(len(x), 0.97)))
    boxes = m.detect(np.full((160, 200, 3), 128, np.uint8))
    assert boxes.shape == (1, 5)
    np.testing.assert_allclose(boxes[0], [61, 41, 72, 52, 0.97], atol=1e-5)
    monkeypatch.setattr(m, "onet", lambda x: (np.zeros((len(x), 4)), np.zeros((len(x), 10)), np.full(len(x), 0.2)))
    assert len(m.detect(np.full((160, 200, 3), 128, np.uint8))) == 0


def test_weights_ship_with_the_package_and_run_without_torch():
    p = load_weights()
    assert p["pnet.conv1.weight"].shape == (10, 3, 3, 3) and p["onet.dense6_3.weight"].shape == (10, 256)
    assert len(MTCNN().detect(np.full((96, 128, 3), 128, np.uint8))) == 0  # a flat grey image: no face


def test_mtcnn_faces_need_no_torch(tmp_path):
    from test_light_install import _without_torch

    proc = _without_torch("""
        import sys
        import numpy as np
        from pano.localizers.people import PersonDetector
        d = PersonDetector(faces="mtcnn")
        print(len(d.detect(np.full((240, 480, 3), 128, np.uint8))), "torch" in sys.modules)
    """, tmp_path)
    assert proc.stdout.split() == ["0", "False"], proc.stderr
