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
    code = main([str(tmp_path / "x.mp4"), "--device", "cuda"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("pano-pan: error: --device cuda") and err.count("\n") == 1
