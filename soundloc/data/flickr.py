"""Flickr-SoundNet style folders: a frame, its sound, and optionally annotators' boxes per sample id.

Accepted layouts (folder names are matched case-insensitively)::

    ROOT/frames/<id>.jpg|png          ROOT/<id>.jpg
    ROOT/audio/<id>.wav|mp3|flac      ROOT/<id>.wav|mp3|flac|m4a|ogg
    ROOT/annotations/<id>.xml         ROOT/<id>.xml            (optional)

(``frames`` may also be called ``images``/``image``/``frame``; ``audio`` may be ``audios``/``sound``/
``sounds``/``wav``; ``annotations`` may be ``annotation``/``anno``/``xml``). A sample is an id that has
both a frame and an audio file. An id-list file (one id per line, extensions and ``#`` comments
ignored), given as ``ids=`` or found as ROOT/ids.txt, restricts the folder to those ids — the way the
public 250-id test lists are used.

Annotation XML, as released with the Flickr-SoundNet test set: any ``bbox`` (or VOC ``bndbox``) element
holds a box in a 256×256 frame, either as ``xmin/ymin/xmax/ymax`` children or as children whose last
four are those values in that order. Boxes are grouped by annotator when the file says who drew them
(an ``annotator``/``subject``/``owner`` child of the ``object``); otherwise each ``object`` is one
annotator, matching the released files where each of the (up to) three annotators drew one box.
The score map is eq. 9 with #consensus = 2, also for a file with a single box (as the public
evaluation code does: each box is one vote, so a lone box scores 0.5).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from common.audio_io import read_audio
from common.errors import UserError
from soundloc.data.common import fit_length, make_sample, normalize_image
from soundloc.metrics import Box, consensus_map

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
AUDIO_EXTS = (".wav", ".mp3", ".flac", ".m4a", ".ogg", ".aac")
ANNOTATION_FRAME = 256
_DIRS = {
    "frames": ("frames", "images", "image", "frame"),
    "audio": ("audio", "audios", "sound", "sounds", "wav"),
    "annotations": ("annotations", "annotation", "anno", "xml"),
}


def parse_annotation(path: str | Path) -> list[list[Box]]:
    """Boxes of one annotation XML grouped by annotator, in 256×256 coordinates.

    Raises ``UserError`` for a file that is not XML or holds a box without four numbers.
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise UserError(f"{path}: not a readable annotation XML ({exc}); fix or remove the file") from None
    groups: dict[str, list[Box]] = {}
    order: list[str] = []
    bbox_parent = {c: p for p in root.iter() for c in p}
    for n, el in enumerate(e for e in root.iter() if e.tag.lower() in ("bbox", "bndbox")):
        named = {c.tag.lower(): c.text for c in el}
        try:
            if all(k in named for k in ("xmin", "ymin", "xmax", "ymax")):
                vals = [float(named[k]) for k in ("xmin", "ymin", "xmax", "ymax")]
            else:
                nums = []
                for c in el:
                    try:
                        nums.append(float(c.text))
                    except (TypeError, ValueError):
                        continue
                vals = nums[-4:]
                if len(vals) != 4:
                    raise ValueError
        except (TypeError, ValueError):
            raise UserError(f"{path}: a bbox without xmin/ymin/xmax/ymax numbers; fix the file") from None
        x0, y0, x1, y1 = vals
        box = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        parent = bbox_parent.get(el)
        who = None
        if parent is not None:
            for c in parent:
                if c.tag.lower() in ("annotator", "subject", "owner") and c.text:
                    who = c.text.strip()
        key = who if who is not None else f"#{n}"
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(box)
    return [groups[k] for k in order]


def read_id_list(path: str | Path) -> list[str]:
    """Ids from a list file: one per line, extensions stripped, blank lines and ``#`` comments ignored."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise UserError(f"{path}: cannot read the id list ({exc.strerror}); check the path") from None
    ids = []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            ids.append(Path(line.split()[0]).stem if "." in line else line.split()[0])
    return ids


def _subdir(root: Path, kind: str) -> Path | None:
    by_name = {p.name.lower(): p for p in root.iterdir() if p.is_dir()}
    for name in _DIRS[kind]:
        if name in by_name:
            return by_name[name]
    return None


def _index(folder: Path, exts: tuple[str, ...]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in exts:
            out.setdefault(p.stem, p)
    return out


class FlickrSoundNet(Dataset):
    """Frame/sound pairs (and annotations when present) from a Flickr-SoundNet style folder.

    ``audio_seconds`` of sound are kept (centre crop or zero pad; the paper listens to 20 s);
    ``gt_size`` is the resolution of ``gt_map`` (256, the annotation frame, unless told otherwise).
    """

    def __init__(self, root: str | Path, image_size: int = 320, sample_rate: int = 22050,
                 audio_seconds: float = 20.0, ids: str | Path | list[str] | None = None,
                 gt_size: int = ANNOTATION_FRAME, consensus: int = 2) -> None:
        root = Path(root)
        if not root.is_dir():
            raise UserError(f"{root}: no such folder; pass a Flickr-SoundNet style folder")
        frames_dir = _subdir(root, "frames") or root
        audio_dir = _subdir(root, "audio") or root
        anno_dir = _subdir(root, "annotations") or root
        frames, audios = _index(frames_dir, IMAGE_EXTS), _index(audio_dir, AUDIO_EXTS)
        annos = _index(anno_dir, (".xml",))
        if ids is None and (root / "ids.txt").is_file():
            ids = root / "ids.txt"
        if ids is None:
            wanted = sorted(set(frames) & set(audios))
        else:
            wanted = list(ids) if isinstance(ids, list) else read_id_list(ids)
            missing = [i for i in wanted if i not in frames or i not in audios]
            if missing:
                raise UserError(f"{root}: id {missing[0]!r} from the id list has no frame or no audio file "
                                f"({len(missing)} missing); fix the list or add the files")
        if not wanted:
            raise UserError(f"{root}: no id has both a frame ({'/'.join(IMAGE_EXTS)}) and an audio file "
                            f"({'/'.join(AUDIO_EXTS)}); see the accepted layout in soundloc.data.flickr")
        self.root, self.ids = root, wanted
        self.frames = {i: frames[i] for i in wanted}
        self.audios = {i: audios[i] for i in wanted}
        self.annotations = {i: annos[i] for i in wanted if i in annos}
        self.image_size, self.sample_rate = image_size, sample_rate
        self.audio_samples = int(round(audio_seconds * sample_rate))
        self.gt_size, self.consensus = gt_size, consensus

    def __len__(self) -> int:
        return len(self.ids)

    def annotated_indices(self) -> list[int]:
        """Indices of ids that have an annotation file."""
        return [i for i, sid in enumerate(self.ids) if sid in self.annotations]

    def gt(self, sample_id: str) -> np.ndarray | None:
        """Consensus score map (gt_size × gt_size) of one id, or None without annotation."""
        path = self.annotations.get(sample_id)
        if path is None:
            return None
        groups = parse_annotation(path)
        if not groups:
            return None
        f = self.gt_size / ANNOTATION_FRAME
        scaled = [[(x0 * f, y0 * f, x1 * f, y1 * f) for x0, y0, x1, y1 in g] for g in groups]
        return consensus_map(scaled, self.gt_size, self.consensus)

    def __getitem__(self, index: int) -> dict:
        import cv2

        sid = self.ids[index]
        path = self.frames[sid]
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise UserError(f"{path}: not a readable image; re-save it as JPEG or PNG")
        wave = read_audio(self.audios[sid], self.sample_rate, channels=1)[0]
        return make_sample(normalize_image(bgr[:, :, ::-1], self.image_size),
                           fit_length(wave, self.audio_samples), self.gt(sid), self.gt_size, -1, index)
