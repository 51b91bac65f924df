"""``pano-pan run`` (the main job) and ``pano-pan inspect``: option parsing and messages only."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.delivery import delivery_options, run_fields
from cli.progress import make_progress
from common.errors import OptionError
from common.files import require_regular_file
from common.media import require_media_file
from pano.localizers.base import LOCALIZERS
from pano.media.probe import AUDIO_FORMATS, PROJECTIONS, STEREO_MODES, probe
from pano.paths.exporters import EXPORTERS
from pano.planning.base import MAX_SPEED, PLANNERS
from pano.rendering import NFOV_AUDIO
from pano.sphere.views import DEFAULT_FOV_RANGE, DEFAULT_HFOV, parse_fov, parse_fov_range, parse_size
from soundloc.device import check_device_word
from soundloc.download import is_url

if TYPE_CHECKING:  # the pipeline (NumPy, PyAV, OpenCV, SciPy) is imported when a run starts, not before the
    # CLI has checked its input: `pano-pan missing.mp4` answers without those imports
    from pano.pipeline import RunOptions


def parse_key_values(items: tuple[str, ...], flag: str) -> dict:
    """``KEY=VALUE`` pairs; values are read as JSON where they parse (numbers, true/false, lists)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise OptionError(f"{flag} {item!r}: write it as KEY=VALUE, e.g. {flag} stride=5")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def overwrite_option(f):
    return click.option(
        "--overwrite", is_flag=True,
        help="Replace existing files of the same names even if pano-pan did not write them (never an input).",
    )(f)


def debug_option(f):
    return click.option("--debug", is_flag=True, help="Show full tracebacks for errors.")(f)


# ``run``'s own parameters; every other option of ``run`` is a run option that ``batch`` shares.
RUN_ONLY = ("input_path", "outdir", "quiet", "debug")


def run_option_fields(localizer: str, planner: str, checkpoint: str | None, fov: str | None, fov_range: str | None,
                      size: str | None, projection: str, stereo: str, max_speed: float | None, cuts: str | None,
                      max_pan_time: float | None, no_saliency_video: bool, exports: tuple[str, ...], plot: bool,
                      audio_format: str, nfov_audio: str, device: str, localizer_opts: tuple[str, ...],
                      planner_opts: tuple[str, ...], overwrite: bool, delivery: dict) -> dict:
    """:class:`RunOptions` fields from ``run``'s parsed options, every option checked (no pipeline import)."""
    out_size = parse_size(size) if size else "standard"
    hfov, vfov = parse_fov(fov) if fov else (None, None)
    zoom = parse_fov_range(fov_range) if fov_range else (None if fov else DEFAULT_FOV_RANGE)
    if fov and fov_range and not zoom[0] <= hfov <= zoom[1]:
        raise OptionError(f"--fov {hfov:g} is outside --fov-range {fov_range}: give a view inside the range")
    planner_options = parse_key_values(planner_opts, "--planner-option")
    if max_speed is not None:
        planner_options["max_speed"] = max_speed
    if cuts is not None or max_pan_time is not None:
        if planner != "autocam":
            raise OptionError("--cuts and --max-pan-time work with --planner autocam only")
        if cuts is not None:
            planner_options["cuts"] = cuts
        if max_pan_time is not None:
            planner_options["max_pan_time"] = max_pan_time
    if checkpoint is not None and not is_url(checkpoint):
        require_regular_file(checkpoint, "checkpoint file", "check --checkpoint",
                             folder_fix="pass the checkpoint file in it (e.g. best.pt)")
    return dict(
        localizer=localizer, planner=planner, hfov=hfov, vfov=vfov, fov_range=zoom, size=out_size,
        projection=projection, stereo=stereo,
        saliency_video=not no_saliency_video, audio_format=audio_format, device=check_device_word(device),
        checkpoint=str(checkpoint) if checkpoint else None, planner_options=planner_options,
        localizer_options=parse_key_values(localizer_opts, "--localizer-option"),
        exports=tuple(dict.fromkeys([*exports, *(["plot"] if plot else [])])), nfov_audio=nfov_audio,
        overwrite=overwrite, **run_fields(delivery),
    )


def run_options(**params) -> RunOptions:
    """:class:`RunOptions` from ``run``'s parsed options (``batch`` passes the same ones, see RUN_ONLY)."""
    from pano.pipeline import RunOptions

    return RunOptions(**run_option_fields(**params))


@click.command("run")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("-o", "--outdir", type=click.Path(path_type=Path), default=Path("."), show_default=True,
              help="Folder for INPUT-stem.nfov.mp4, .saliency.mp4 and .trajectory.json.")
@click.option("--localizer", type=click.Choice(["auto", *LOCALIZERS.names()]), default="auto", show_default=True,
              help="Where saliency comes from: auto picks ambisonic for FOA audio, network with a checkpoint, "
              "else synchrony.")
@click.option("--planner", type=click.Choice(PLANNERS.names()), default="autocam", show_default=True,
              help="Camera path planner.")
@click.option("--checkpoint", default=None, metavar="PATH|URL#sha256=HEX",
              help="Trained soundloc checkpoint for --localizer network/fusion: a file, or a URL with its "
              "SHA-256 (downloaded once, cached).")
@click.option("--fov", "fov", default=None, metavar="H[xV]",
              help=f"Field of view in degrees [default: {DEFAULT_HFOV}, vertical from the output aspect].")
@click.option("--fov-range", "fov_range", default=None, metavar="MIN:MAX",
              help=f"Horizontal degrees the camera may zoom between, per shot [default: "
              f"{DEFAULT_FOV_RANGE[0]:g}:{DEFAULT_FOV_RANGE[1]:g}; with --fov alone the view is fixed].")
@click.option("--size", "size", default=None, metavar="WxH|native",
              help="NFOV output size [default: 1280x720, or 1920x1080 when the panorama is sharp enough]; "
              "native = the panorama's own angular resolution (at least 240 lines).")
@click.option("--projection", type=click.Choice(PROJECTIONS), default="auto", show_default=True,
              help="auto: the file's 360° metadata, else a 2:1 frame is equirectangular; equirect: treat the "
              "frames as a full-sphere equirectangular panorama whatever their shape (e.g. 16:9 without metadata).")
@click.option("--stereo", type=click.Choice(STEREO_MODES), default="auto", show_default=True,
              help="3D 360° video: which half of the frame is one eye (auto: from the file's metadata). One eye "
              "is analysed and rendered.")
@click.option("--max-speed", type=float, default=None, metavar="DEG/S",
              help=f"Camera's top angular speed [default: the planner's, {MAX_SPEED:g}°/s].")
@click.option("--cuts", type=click.Choice(["auto", "never"]), default=None,
              help="autocam: auto = cut where an editor would (a pan longer than --max-pan-time to a new "
              "source; shots of at least 1.5 s; no cut for a sound under 0.5 s); never = always pan "
              "[default: auto].")
@click.option("--max-pan-time", type=float, default=None, metavar="S",
              help="autocam: longest pan before a cut [default: 2 s].")
@click.option("--no-saliency-video", is_flag=True, help="Skip the .saliency.mp4 diagnostic video (faster).")
@click.option("--export", "exports", type=click.Choice(EXPORTERS.names()), multiple=True,
              help="Also write the path for other tools: csv (.trajectory.csv), ffmpeg (.sendcmd.txt + "
              ".ffmpeg.sh for stock ffmpeg's v360), plot (.plot.png); editors' timelines of the shots: otio (.otio), "
              "edl (CMX 3600), fcp-xml (.fcp.xml for Premiere/Resolve), fcpxml (Final Cut Pro). Repeatable.")
@click.option("--plot", is_flag=True, help="Same as --export plot.")
@click.option("--audio-format", type=click.Choice(AUDIO_FORMATS), default="auto", show_default=True,
              help="How to read the audio: auto detects AmbiX FOA; fuma for FuMa-ordered FOA; mono ignores direction.")
@click.option("--nfov-audio", type=click.Choice(NFOV_AUDIO), default="auto", show_default=True,
              help="Sound of the flat video: auto = stereo turned with the camera for FOA sources, else keep; "
              "keep = the source's track unchanged; view = the FOA stereo decode; binaural = for headphones, "
              "the FOA field turned to the view and rendered with measured (KEMAR) HRTFs.")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda, cuda:N or auto (network localizer).")
@click.option("--localizer-option", "--source-option", "localizer_opts", multiple=True, metavar="KEY=VALUE",
              help="An option of the localizer, e.g. stride=5 (network); 'pano-pan plugins localizer' lists "
              "them with defaults and ranges. Repeatable.")
@click.option("--planner-option", "planner_opts", multiple=True, metavar="KEY=VALUE",
              help="An option of the planner, e.g. smooth=0.8 (autocam); 'pano-pan plugins planner' lists "
              "them. Repeatable.")
@delivery_options
@overwrite_option
@click.option("-q", "--quiet", is_flag=True, help="Print only errors.")
@debug_option
def run_cmd(input_path: Path, outdir: Path, quiet: bool, debug: bool, **params) -> None:
    """Make the NFOV video, saliency video and trajectory JSON for a 360° video."""
    fields = run_option_fields(**params)
    # The input's first check (open_media's own), made before the pipeline is imported, so
    # `pano-pan missing.mp4` answers in a fraction of a second.
    require_media_file(input_path)
    from pano.pipeline import RunOptions, run

    options = RunOptions(**fields)
    delivery = params["delivery"]
    say = (lambda _m: None) if quiet else (lambda m: click.echo(m, err=True))
    start = time.perf_counter()
    mode = "none" if quiet and delivery["progress_mode"] == "auto" else delivery["progress_mode"]
    result = run(input_path, outdir, options, progress=make_progress(mode), notify=say)
    elapsed = time.perf_counter() - start
    if not quiet:
        info_duration = result.frames / result.media.fps if result.media.fps else result.media.duration
        click.echo(f"wrote {result.nfov}", err=True)
        if result.saliency:
            click.echo(f"wrote {result.saliency}", err=True)
        click.echo(f"wrote {result.trajectory}", err=True)
        for path in result.extra_outputs:
            click.echo(f"wrote {path}", err=True)
        click.echo(f"{result.frames} frames in {elapsed:.1f} s ({info_duration / elapsed:.1f}× real time)", err=True)


@click.command("inspect")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("--audio-format", type=click.Choice(AUDIO_FORMATS), default="auto", show_default=True)
@click.option("--projection", type=click.Choice(PROJECTIONS), default="auto", show_default=True)
@click.option("--stereo", type=click.Choice(STEREO_MODES), default="auto", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the probe result as JSON.")
@debug_option
def inspect_cmd(input_path: Path, audio_format: str, projection: str, stereo: str, as_json: bool,
                debug: bool) -> None:
    """Show what pano-pan sees in a video: projection and stereo (and where they come from), streams,
    audio layout, FOA or not."""
    from common.errors import InputError
    from pano.media.probe import require_equirectangular
    from pano.sphere.views import default_output_size

    info = probe(input_path, audio_format, projection, stereo)
    info.frame_count = len(info.frame_times())  # counted (one demux pass), not the container's estimate
    if as_json:
        from pano.localizers.lateral import audio_cues

        kind, words = audio_cues(info)
        click.echo(json.dumps(info.to_dict() | {"direction_cues": {"kind": kind, "text": words}}, indent=2,
                              default=str))
        return
    foa = {"ambix": "yes (AmbiX: W, Y, Z, X, SN3D)", "fuma": "yes (FuMa, converted to AmbiX on read)"}
    pano_w, pano_h = info.pano_size
    try:
        require_equirectangular(info)
        out_w, out_h = default_output_size(pano_w, DEFAULT_HFOV, pano_height=pano_h)
        per_eye = " per eye" if info.stereo != "mono" else ""
        usable = f"yes: a {pano_w}×{pano_h} panorama{per_eye}; default output {out_w}×{out_h}"
    except InputError as exc:  # inspect reports it rather than failing
        usable = f"no: {exc}"
    eye = {"top-bottom": "top eye", "left-right": "left eye"}.get(info.stereo, "whole frame")
    rows = [
        ("file", str(info.path)),
        ("projection", f"{info.projection} (from {info.projection_source or 'nothing: no metadata, not 2:1'})"),
        ("stereo", f"{info.stereo} (from {info.stereo_source}); pano-pan uses the {eye}"),
        ("360° input", usable),
        ("video", f"{info.video_codec} {info.width}×{info.height} {info.pix_fmt}, {info.fps:.3f} fps, "
                  f"{info.frame_count} frames"),
        ("duration", f"{info.duration:.2f} s"),
        ("audio", f"{info.audio_codec} {info.audio_channels} ch ({info.audio_layout}), {info.audio_sample_rate} Hz"
         if info.has_audio else "none"),
        ("FOA", foa.get(info.audio_format, "no" if info.has_audio else "no audio")
         + (" from the SA3D box" if info.is_foa and info.spherical.get("spatial_audio") else "")),
    ]
    from pano.localizers.lateral import audio_cues

    rows.append(("direction", audio_cues(info)[1]))
    if info.spherical:
        rows.append(("metadata", json.dumps(info.spherical)))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key:<{width}}  {value}")
    for line in info.notices:
        click.echo(f"note: {line}")
