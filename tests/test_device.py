import pytest
import torch

from cli.main import main
from common.errors import UserError
from soundloc.device import resolve_device


def test_device_words():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(UserError, match="use auto, cpu, cuda or cuda:N"):
        resolve_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_gpu_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(UserError, match="--device cpu"):
        resolve_device("cuda:0")
    from clips import mono_pulse_clip
    from soundloc.checkpoint import save_checkpoint
    from soundloc.model import ModelConfig, SoundLocalizer

    ckpt = save_checkpoint(tmp_path / "tiny.pt", SoundLocalizer(ModelConfig(backbone="tiny", embed_dim=32)))
    clip = mono_pulse_clip(tmp_path / "talk.mp4", seconds=1.0, size=(60, 120))
    code = main([str(clip), "-o", str(tmp_path / "out"), "--checkpoint", str(ckpt), "--device", "cuda"])
    err = capsys.readouterr().err
    assert code == 2 and "pano-pan: error: --device cuda" in err
    assert [ln for ln in err.splitlines() if ln.startswith("pano-pan:")] == [err.splitlines()[-1]]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_device_word_is_checked_without_importing_torch_for_runs_that_do_not_need_it(tmp_path, capsys):
    code = main([str(tmp_path / "x.mp4"), "--device", "tpu"])
    assert code == 2 and "use auto, cpu, cuda or cuda:N" in capsys.readouterr().err
