"""Face finders on real 360° frames: Haar cascade vs NumPy MTCNN inside ``PersonDetector``.

For each clip with a ``<clip>.truth.json`` in DIR, a look (all six views, a 960×480 frame as the
audiovisual localizer's detail frame) every ``--every`` seconds; per finder: looks where some box lies
within 15° (yaw) of the truth, boxes near the truth and false boxes (further than 15° from every
truth direction of the clip) per look, and CPU seconds per look. Faces only (``hog_threshold`` huge),
then the whole detector (HOG + faces).

    python benchmarks/faces_real.py /work/media/all [--every 2] [--clips x01,x02]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import cv2  # noqa: E402

from pano.localizers.people import DETAIL_SIZE, PersonDetector  # noqa: E402


def frames(path: Path, every: float):
    with av.open(str(path)) as c:
        nxt = 0.0
        for f in c.decode(video=0):
            if f.time is None or f.time + 1e-6 < nxt:
                continue
            nxt += every
            img = f.to_ndarray(format="rgb24")
            yield float(f.time), cv2.resize(img, (DETAIL_SIZE[1], DETAIL_SIZE[0]), interpolation=cv2.INTER_AREA)


def truth_at(tr: dict, t: float) -> float:
    if "times" in tr:
        return float(np.interp(t, tr["times"], tr["yaw"]))
    return float(tr["sources"][0]["yaw"])


def all_truth(tr: dict) -> list[float]:
    if "yaw" in tr:
        return sorted(set(float(y) for y in tr["yaw"]))
    return [float(s["yaw"]) for s in tr["sources"]]


def dyaw(a, b):
    return abs((a - b + 180.0) % 360.0 - 180.0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir", type=Path)
    ap.add_argument("--every", type=float, default=2.0)
    ap.add_argument("--clips", default="x01,x02,x03,x04,x05,x06,x07,h03,c01")
    ap.add_argument("--max-looks", type=int, default=6)
    args = ap.parse_args()
    finders = {"haar": dict(faces="haar", hog_threshold=1e9), "mtcnn": dict(faces="mtcnn", hog_threshold=1e9),
               "hog+haar": dict(faces="haar"), "hog+mtcnn": dict(faces="mtcnn")}
    dets = {k: PersonDetector(**v) for k, v in finders.items()}
    tot = {k: [0, 0, 0, 0, 0.0] for k in finders}
    for clip in args.clips.split(","):
        tp = args.dir / f"{clip}.truth.json"
        if not tp.is_file():
            print(f"{clip}: no truth")
            continue
        tr = json.loads(tp.read_text())
        yaws = all_truth(tr)
        looks = list(frames(args.dir / f"{clip}.mp4", args.every))[: args.max_looks]
        for k, det in dets.items():
            hit = near = false = 0
            cpu = 0.0
            for t, fr in looks:
                c0 = time.process_time()
                boxes = det.detect(fr)
                cpu += time.process_time() - c0
                ty = truth_at(tr, t)
                hit += any(dyaw(b[0], ty) <= 15 for b in boxes)
                near += sum(dyaw(b[0], ty) <= 15 for b in boxes)
                false += sum(all(dyaw(b[0], y) > 15 for y in yaws) for b in boxes)
            n = len(looks)
            tot[k] = [a + b for a, b in zip(tot[k], (n, hit, near, false, cpu), strict=True)]
            print(f"{clip} {k:10s} looks {n}  hit {hit}/{n}  near {near}  false {false}  "
                  f"cpu/look {cpu / max(n, 1):.3f}s", flush=True)
    for k, (n, hit, near, false, cpu) in tot.items():
        print(f"ALL {k:10s} looks {n}  hit {hit}/{n}  near {near}  false {false}  cpu/look {cpu / max(n, 1):.3f}s")


if __name__ == "__main__":
    main()
