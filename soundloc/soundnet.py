"""The sound network: SoundNet-8 (conv1–conv8) and the two ReLU-FC blocks that turn f_s into h.

Senocak et al. (Sec. 3.1) take SoundNet's first eight 1-D conv layers with 1000 conv8 filters, average
the conv8 activations over a sliding window (20 s) to get a fixed-size f_s whatever the clip length,
and map f_s through ReLU-FC, ReLU-FC to the 512-D h that meets the visual features. The layer table
below is the one public implementations agree on (see ``shared/seeds/README.md``); the receptive-field
arithmetic that the streaming code needs is derived from that same table, so the two cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

SAMPLE_RATE = 22050
WAVEFORM_SCALE = 256.0  # SoundNet was trained on waveforms in about ±256
FS_DIM = 1000  # conv8 filters = dimension of f_s


@dataclass(frozen=True)
class ConvSpec:
    out_channels: int
    kernel: int
    stride: int
    padding: int
    pool: int  # max-pool kernel = stride after the layer; 1 = none
    norm_relu: bool = True


# conv1 … conv8 (SoundNet-8 with 1000 conv8 filters)
LAYERS: tuple[ConvSpec, ...] = (
    ConvSpec(16, 64, 2, 32, 8),
    ConvSpec(32, 32, 2, 16, 8),
    ConvSpec(64, 16, 2, 8, 1),
    ConvSpec(128, 8, 2, 4, 1),
    ConvSpec(256, 4, 2, 2, 4),
    ConvSpec(512, 4, 2, 2, 1),
    ConvSpec(1024, 4, 2, 2, 1),
    ConvSpec(FS_DIM, 8, 2, 0, 1, norm_relu=False),
)


def _ops() -> list[tuple[int, int, int]]:
    """(kernel, stride, padding) of every index-changing op in order (convs and pools)."""
    ops = []
    for spec in LAYERS:
        ops.append((spec.kernel, spec.stride, spec.padding))
        if spec.pool > 1:
            ops.append((spec.pool, spec.pool, 0))
    return ops


def _receptive_field() -> tuple[int, int, int]:
    """(stride, left, right) with conv8 output t reading input samples [t·stride − left, t·stride + right].

    Indices below 0 or past the end are the layers' zero padding. Derived by composing each op's
    output→input index range backwards from one conv8 position.
    """
    lo, hi = 0, 0
    for k, s, p in reversed(_ops()):
        lo, hi = lo * s - p, hi * s - p + k - 1
    stride = 1
    for _, s, _ in _ops():
        stride *= s
    return stride, -lo, hi


HOP, RF_LEFT, RF_RIGHT = _receptive_field()  # 65536 samples (~2.97 s) per conv8 step


def conv8_length(n_samples: int) -> int:
    """Number of conv8 outputs SoundNet-8 gives for ``n_samples`` input samples (0 if too short)."""
    n = int(n_samples)
    for k, s, p in _ops():
        n = (n + 2 * p - k) // s + 1
        if n <= 0:
            return 0
    return n


def _min_samples() -> int:
    lo, hi = 1, HOP * 16
    while lo < hi:  # smallest input with one conv8 output
        mid = (lo + hi) // 2
        if conv8_length(mid) >= 1:
            hi = mid
        else:
            lo = mid + 1
    return lo


MIN_SAMPLES = _min_samples()  # shortest valid input (~9.5 s at 22,050 Hz)


def fit_min_length(wave: Tensor, min_samples: int = MIN_SAMPLES) -> Tensor:
    """Tile a (..., S) waveform (repeat it from its start) up to ``min_samples``; silence if empty.

    Tiling keeps the clip's sound statistics, where zero padding would dilute the average over conv8
    steps with the response to silence. It is deterministic, so the same clip always gives the same h.
    """
    n = wave.shape[-1]
    if n >= min_samples:
        return wave
    if n == 0:
        return wave.new_zeros(*wave.shape[:-1], min_samples)
    reps = -(-min_samples // n)
    return wave.repeat(*([1] * (wave.dim() - 1)), reps)[..., :min_samples]


class SoundNet8(nn.Module):
    """SoundNet conv1–conv8: ``(B, S)`` or ``(B, 1, S)`` waveform (±256) -> ``(B, 1000, T)`` conv8 features."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        in_ch = 1
        for spec in LAYERS:
            layers.append(nn.Conv1d(in_ch, spec.out_channels, spec.kernel, spec.stride, spec.padding))
            if spec.norm_relu:
                layers += [nn.BatchNorm1d(spec.out_channels), nn.ReLU(inplace=True)]
            if spec.pool > 1:
                layers.append(nn.MaxPool1d(spec.pool, spec.pool))
            in_ch = spec.out_channels
        self.layers = nn.Sequential(*layers)

    def forward(self, wave: Tensor) -> Tensor:
        if wave.dim() == 2:
            wave = wave.unsqueeze(1)
        return self.layers(wave)


class SoundHead(nn.Module):
    """Layers 9 and 10: ReLU-FC, ReLU-FC from the pooled conv8 features f_s to the sound embedding h."""

    def __init__(self, embed_dim: int = 512, in_dim: int = FS_DIM, hidden: int = FS_DIM) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.ReLU(), nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, embed_dim))

    def forward(self, f_s: Tensor) -> Tensor:
        return self.net(f_s)


def pooled_features(soundnet: SoundNet8, wave: Tensor) -> Tensor:
    """f_s for whole clips: conv8 averaged over all of its steps. ``(B, S)`` -> ``(B, 1000)``.

    Clips shorter than :data:`MIN_SAMPLES` are tiled first (see :func:`fit_min_length`).
    """
    return soundnet(fit_min_length(wave)).mean(dim=-1)
