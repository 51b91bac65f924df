"""What ``pano-pan train DIR --dataset-type foa-videos`` uses by default, so that what it learns holds on
other real footage within CPU minutes.

Ten-odd real FOA clips are far too little to learn hearing or seeing from scratch: a network trained
that way learns the training scenes (issue 20: 0.25 mean capture on other real clips, below a fixed
front view). So the defaults start both streams from pretrained networks where they can be had without
a download at run time, keep them frozen (their features are the knowledge; only the small heads and
the attention learn, which also makes a step cheap), and give each sample fresh views of itself:

* **sound**: the SoundNet authors' SoundNet-8 (trained on two million videos), when its converted file is
  at :func:`soundloc.soundnet_weights.default_weights_path` (``pano-pan convert soundnet`` puts it
  there); else SoundNet is trained from scratch and the notes say how to get the weights. Frozen, its
  pooled features are computed once per sample (``TrainConfig.freeze_sound``) and eq. 6 compares
  L2-normalised vectors (pretrained f_s are logits of norm ~10³, where raw distances saturate it).
* **vision**: ResNet-18's ImageNet weights when torchvision's file is already in the user's torch cache
  (:func:`soundloc.visual.imagenet_cached`; nothing is downloaded), frozen through layer3; else the
  ``tiny`` backbone trained from scratch, said in the notes. No registry package was found that ships
  an ImageNet image model's weights inside itself (the env's package lists were searched for one).
* **augmentations** (``pano.foa.dataset.FoaAugment``) and **negatives from other clips** only
  (``TrainConfig.negatives_other_clips``).
* **length**: ``DEFAULT_EPOCHS`` epochs, but never past ``DEFAULT_MAX_MINUTES`` of training
  (``TrainConfig.max_minutes``): the run stops after the epoch that would overrun it.

Whatever the user passes on the command line wins; :func:`choose` fills in only what was left out and
says what it chose (the same notes go into the checkpoint's meta).
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_EPOCHS = 30
DEFAULT_MAX_MINUTES = 15.0  # wall-clock minutes of training (sampling into the cache is not counted)
PRETRAINED_BACKBONE = "resnet18"
SCRATCH_BACKBONE = "tiny"


@dataclass
class FoaRecipe:
    """The options :func:`choose` filled in (CLI names without dashes) and a line for each choice."""

    options: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_meta(self) -> dict:
        return {"defaults": {k: (str(v) if v is not None and not isinstance(v, (bool, int, float)) else v)
                             for k, v in self.options.items()}, "notes": list(self.notes)}


def choose(given: set[str], soundnet_weights=None, cache: str | None = None) -> FoaRecipe:
    """The default options for FOA training that the user did not give (``given``: option names passed).

    ``soundnet_weights`` is the user's ``--soundnet-weights`` (a path, ``"none"`` for from scratch, or
    None when not given); ``cache`` overrides the cache folder the converted SoundNet is looked for in.
    """
    from soundloc.soundnet_weights import HOW_TO_GET, default_weights_path, find_default_weights
    from soundloc.visual import imagenet_cached, imagenet_file

    r = FoaRecipe()
    pretrained_sound = False
    if "soundnet_weights" not in given or soundnet_weights is None:
        found = find_default_weights(cache)
        if found is not None:
            r.options["soundnet_weights"] = found
            pretrained_sound = True
            r.notes.append(f"sound: the SoundNet authors' pretrained SoundNet-8 from {found}")
        else:
            r.options["soundnet_weights"] = None
            r.notes.append(f"sound: no pretrained SoundNet at {default_weights_path(cache)}, so SoundNet starts "
                           f"random (it transfers worse between real clips); to get it: {HOW_TO_GET}")
    else:
        pretrained_sound = str(soundnet_weights).lower() != "none"
    if "freeze_sound" not in given:
        r.options["freeze_sound"] = True
        r.notes.append("sound: SoundNet conv1-8 frozen, its features computed once per sample "
                       "(--train-sound fine-tunes it, several times slower on CPU)")
    if pretrained_sound and "normalize_embeddings" not in given:
        r.options["normalize_embeddings"] = True
    if not {"backbone", "pretrained", "freeze_backbone"} & given:
        if imagenet_cached(PRETRAINED_BACKBONE):
            r.options.update(backbone=PRETRAINED_BACKBONE, pretrained=True, freeze_backbone=True)
            r.notes.append(f"vision: {PRETRAINED_BACKBONE} with the ImageNet weights in the torch cache, frozen")
        else:
            r.options.update(backbone=SCRATCH_BACKBONE, pretrained=False, freeze_backbone=False)
            r.notes.append(f"vision: no ImageNet weights for {PRETRAINED_BACKBONE} in the torch cache "
                           f"({imagenet_file(PRETRAINED_BACKBONE)}), so the small '{SCRATCH_BACKBONE}' "
                           "backbone learns from scratch; nothing is downloaded")
    if "embed_dim" not in given:
        r.options["embed_dim"] = 128  # the heads learn from minutes of footage: keep them small
    if "attention_temperature" not in given:
        r.options["attention_temperature"] = 0.05  # peaked maps: a source is a few cells of the panorama
    if "mode" not in given:
        r.options["mode"] = "semi"  # the FOA map supervises; the triplet loss adds the other clips' sounds
    if "lr" not in given:
        r.options["lr"] = 1e-3
    if "epochs" not in given:
        r.options["epochs"] = DEFAULT_EPOCHS
    if "max_minutes" not in given:
        r.options["max_minutes"] = DEFAULT_MAX_MINUTES
    if "epochs" in r.options or "max_minutes" in r.options:
        r.notes.append(f"length: up to {r.options.get('epochs', 'the given')} epochs, stopping after the epoch "
                       f"that would pass {r.options.get('max_minutes', 'the given')} minutes of training")
    return r
