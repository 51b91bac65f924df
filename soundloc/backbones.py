"""The backbone family: registry name → class, readable without importing PyTorch.

The CLI builds ``--backbone``'s choices from this table, so it lives apart from ``soundloc.visual``
(which imports torch). Adding a backbone is one class in a module plus one line here; another package
can add one under the entry-point group ``pano_pan.backbones``.
"""

from __future__ import annotations

from common.registry import Registry

BACKBONES: Registry = Registry("backbone", {
    "vgg16": "soundloc.visual:VGG16",
    "resnet18": "soundloc.visual:ResNet18",
    "tiny": "soundloc.visual:Tiny",
}, entry_point_group="pano_pan.backbones")

#: Padding of the backbone's convolutions (``ModelConfig.padding``, ``train --padding``). Zeros (the paper;
#: what ImageNet weights were trained with) mark the image border in the features, so a cell knows where
#: it is; a sound-dependent attention pattern over border cells can then carry the sound's identity into z
#: with no object involved, and the unsupervised loss falls without localizing (measured on synthetic
#: scenes, see docs/measurements.md). "reflect" leaves a plain background looking the same at the border as inside.
PADDINGS = ("zeros", "reflect")
