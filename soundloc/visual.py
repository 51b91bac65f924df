"""The visual network's feature extractor: fully convolutional backbones at stride 16.

The paper uses VGG-16 through conv5_3 (before its ReLU), so a 480×960 equirectangular frame gives a
30×60 grid of 512-D features and a 320×320 training image a 20×20 grid. ``resnet18`` (through layer3,
stride 16) and ``tiny`` (a few plain convs, for tests and CPU experiments) share the interface, so the
attention code never cares which one it gets.

ImageNet weights come only through torchvision's weights API and only when asked for; they are cached
by torch hub (``$TORCH_HOME``). Offline, the download fails within seconds with a UserError instead of
hanging on a socket.
"""

from __future__ import annotations

import pickle
import socket
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from common.errors import UserError
from common.options import PluginOptions, option
from soundloc.backbones import BACKBONES

DOWNLOAD_TIMEOUT = 20.0  # seconds without data before a weights download is abandoned


@dataclass
class Backbone:
    module: nn.Module
    channels: int  # feature dimension D of v
    stride: int  # input pixels per feature cell
    receptive_field: int  # input pixels one feature cell sees along each axis (how far padding reaches in)


@dataclass(frozen=True)
class BackboneOptions(PluginOptions):
    pretrained: bool = option(False, "start from ImageNet weights (torchvision's, downloaded once and cached)")


class BackboneFactory:
    """A registered backbone (``soundloc.backbones.BACKBONES``): ``Cls(ctx, options).build()``."""

    Options = BackboneOptions

    def __init__(self, ctx=None, options: BackboneOptions | None = None) -> None:
        self.options = options or self.Options()

    def build(self) -> Backbone:
        raise NotImplementedError


def _imagenet_state(name: str, weights) -> dict:
    """Download (or read from the torch hub cache) a torchvision weights file, failing fast offline."""
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)
    try:
        # weights_only: a file planted in the hub cache must not be able to run code when unpickled
        return weights.get_state_dict(progress=False, check_hash=True, weights_only=True)
    except pickle.UnpicklingError as exc:  # weights_only refused a global: not a plain weights file
        path = f"{torch.hub.get_dir()}/checkpoints/{weights.url.rsplit('/', 1)[-1]}"
        raise UserError(f"{path}: holds objects other than tensors ({str(exc).splitlines()[0][:80]}), refused for "
                        "safety; delete it so that torchvision downloads the real file") from None
    except (OSError, RuntimeError, ValueError) as exc:  # URLError, timeouts, truncated/corrupt file
        hub = torch.hub.get_dir()
        raise UserError(
            f"{weights.url}: could not get ImageNet weights for {name} ({exc.__class__.__name__}: {exc}); "
            f"connect to the internet once, or put the file in {hub}/checkpoints, "
            "or use pretrained=False / a trained --checkpoint"
        ) from None
    finally:
        socket.setdefaulttimeout(old)


def _imagenet_weights(name: str):
    """torchvision's ImageNet weights entry of a registered backbone (None for one without any)."""
    from torchvision.models import ResNet18_Weights, VGG16_Weights

    return {"vgg16": VGG16_Weights.IMAGENET1K_V1, "resnet18": ResNet18_Weights.IMAGENET1K_V1}.get(name)


def imagenet_file(name: str) -> Path | None:
    """Where torchvision keeps backbone ``name``'s ImageNet weights in the torch cache (``$TORCH_HOME``)."""
    weights = _imagenet_weights(name)
    if weights is None:
        return None
    return Path(torch.hub.get_dir()) / "checkpoints" / weights.url.rsplit("/", 1)[-1]


def imagenet_cached(name: str) -> bool:
    """True when backbone ``name``'s ImageNet weights file is already in the torch cache, so that
    ``pretrained=True`` reads it (hash-checked, ``weights_only``) without touching the network."""
    path = imagenet_file(name)
    return path is not None and path.is_file()


def _receptive_field(ops: list[tuple[int, int]]) -> int:
    """Receptive field of a chain of (kernel, stride) ops: each adds (k − 1) × the input step so far."""
    rf, jump = 1, 1
    for k, s in ops:
        rf += (k - 1) * jump
        jump *= s
    return rf


def _pair(v) -> int:
    return int(v[0] if isinstance(v, tuple) else v)


def sequential_receptive_field(net: nn.Module) -> int:
    """Receptive field of a plain chain of convs and pools (VGG, ``tiny``), read from its layers."""
    ops = [(_pair(m.kernel_size), _pair(m.stride)) for m in net.modules()
           if isinstance(m, (nn.Conv2d, nn.MaxPool2d))]
    return _receptive_field(ops)


class VGG16(BackboneFactory):
    """VGG-16 ``features[:29]``: conv1_1 … conv5_3 without its final ReLU, 512 channels, stride 16.

    Only the convolutional part is built (the classifier's 120M parameters are never allocated), with
    torchvision's VGG initialisation; ImageNet weights are the ``features.*`` entries of its file.
    """

    def build(self) -> Backbone:
        return _vgg16(self.options.pretrained)


class ResNet18(BackboneFactory):
    """ResNet-18 through layer3 (256 channels, stride 16)."""

    def build(self) -> Backbone:
        return _resnet18(self.options.pretrained)


class Tiny(BackboneFactory):
    """Four stride-2 conv blocks (64 channels, stride 16): fast enough to train in a unit test on CPU."""

    def build(self) -> Backbone:
        if self.options.pretrained:
            raise UserError("backbone 'tiny' has no ImageNet weights; set pretrained=False")
        return _tiny()


def _vgg16(pretrained: bool) -> Backbone:
    from torchvision.models import VGG16_Weights
    from torchvision.models.vgg import cfgs, make_layers

    features = make_layers(cfgs["D"], batch_norm=False)
    for m in features.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)
    if pretrained:
        state = _imagenet_state("vgg16", VGG16_Weights.IMAGENET1K_V1)
        features.load_state_dict({k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")})
    return Backbone(features[:29], 512, 16, sequential_receptive_field(features[:29]))


def _resnet18(pretrained: bool) -> Backbone:
    from torchvision.models import ResNet18_Weights
    from torchvision.models import resnet18 as build

    net = build(weights=None)
    if pretrained:
        net.load_state_dict(_imagenet_state("resnet18", ResNet18_Weights.IMAGENET1K_V1))
    trunk = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1, net.layer2, net.layer3)
    # main path: conv1 7/2, maxpool 3/2, then 3×3 convs — 4 in layer1, 4 in layer2 and layer3 (first of
    # each stride 2); the 1×1 downsample shortcuts add nothing
    return Backbone(trunk, 256, 16, _receptive_field([(7, 2), (3, 2)] + [(3, 1)] * 4 + [(3, 2)] + [(3, 1)] * 3
                                                      + [(3, 2)] + [(3, 1)] * 3))


def _tiny() -> Backbone:
    chans = [3, 16, 32, 64, 64]
    layers: list[nn.Module] = []
    for i, (cin, cout) in enumerate(zip(chans[:-1], chans[1:], strict=True)):
        layers.append(nn.Conv2d(cin, cout, 3, 2, 1))
        if i < len(chans) - 2:
            layers += [nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
    trunk = nn.Sequential(*layers)
    return Backbone(trunk, 64, 16, sequential_receptive_field(trunk))


def set_padding(net: nn.Module, mode: str) -> nn.Module:
    """Give every padded 2-D convolution of ``net`` the padding ``mode`` ("zeros" or "reflect"); returns ``net``.

    Only the mode changes, not the amount, so feature grids, strides and weights stay as they are.
    """
    for m in net.modules():
        if isinstance(m, nn.Conv2d) and (m.padding != "valid" if isinstance(m.padding, str) else any(m.padding)):
            m.padding_mode = mode
    return net


def build_backbone(name: str, pretrained: bool = False) -> Backbone:
    """Instantiate a registered backbone; unknown names are a UserError listing the choices."""
    return BACKBONES.create(name, None, {"pretrained": pretrained}).build()
