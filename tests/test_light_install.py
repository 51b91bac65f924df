"""The light install: without PyTorch (``pip install -e .``, no ``[network]``) the default FOA run
works, and every feature that needs PyTorch says in one line what to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from clips import foa_clip

ROOT = Path(__file__).resolve().parents[1]


def _without_torch(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter where ``import torch`` / ``torchvision`` fail as when absent."""
    # a finder that refuses them, as an environment without them does (a None in sys.modules would
    # differ: SciPy looks torch up there and would find None)
    prelude = textwrap.dedent("""
        import sys

        class _Absent:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("torch", "torchvision"):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)

        sys.meta_path.insert(0, _Absent())
    """)
    return subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=180, cwd=ROOT)


def test_the_default_foa_run_works_without_torch(tmp_path):
    clip = foa_clip(tmp_path / "c.mp4", seconds=1.0, size=(60, 120))
    proc = _without_torch(f"""
        from cli.main import main
        print(main([{str(clip)!r}, "-o", {str(tmp_path / "o")!r}, "-q"]))
    """, tmp_path)
    assert proc.stdout.split() == ["0"], proc.stderr
    assert (tmp_path / "o" / "c.nfov.mp4").stat().st_size > 0


def test_features_that_need_torch_say_what_to_install(tmp_path):
    clip = foa_clip(tmp_path / "c.mp4", seconds=1.0, size=(60, 120))
    ckpt = tmp_path / "m.pt"
    ckpt.write_bytes(b"x")
    image = tmp_path / "i.jpg"
    image.write_bytes(b"x")
    out = str(tmp_path / "o")
    cases = {
        "network": [str(clip), "-o", out, "--localizer", "network", "--checkpoint", str(ckpt)],
        "fusion": [str(clip), "-o", out, "--localizer", "fusion", "--checkpoint", str(ckpt)],
        "train": ["train", "synthetic:8", "--out", out, "--backbone", "tiny", "--epochs", "1"],
        "evaluate": ["evaluate", "synthetic:8", "--checkpoint", str(ckpt)],
        "localize": ["localize", str(image), str(clip), "--checkpoint", str(ckpt), "-o", out + ".png"],
        "convert": ["convert", "soundnet", str(ckpt), "-o", out + ".pt"],
    }
    proc = _without_torch(f"""
        from cli.main import main
        for name, argv in {cases!r}.items():
            print("case", name, main(argv), file=sys.stderr)
    """, tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    for name in cases:
        i = lines.index(f"case {name} 2")  # exit status 2: a one-line user error, not a traceback
        assert "pip install 'pano-pan[network]'" in lines[i - 1], (name, lines[i - 1])
        assert "Traceback" not in "\n".join(lines[max(0, i - 2):i]), name
    assert "--localizer network needs torch" in proc.stderr
