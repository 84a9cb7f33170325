"""Virtual camera moves over a still keyframe (the "Ken Burns" animatic move).

Each frame is a crop window of the keyframe scaled back to full size. Window positions are floats, so
slow moves glide instead of stepping a whole pixel at a time.

Speed: a bilinear ``Image.resize(box=...)`` per 1280x720 frame costs ~20 ms on a small CPU. Instead the
keyframe is upsampled bilinearly once per shot by ``OVERSAMPLE`` and each frame is a nearest-neighbour
resample of that (~3 ms): the result is bilinear interpolation with positions quantised to 1/3 pixel
(mean difference from exact bilinear ~0.5 of 255). An odd factor puts the samples of an unscaled
window exactly on the keyframe's pixel centres, so a move's full-frame end is the keyframe itself.
The keyframe is converted to the encoder's YUV 4:2:0 once per shot and the frames are cut from its
planes, which spares FFmpeg a colour conversion of every frame.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from PIL import Image

from filmgen_dagster.av import Yuv420Frame, rgb_to_yuv
from filmgen_dagster.domain import CameraMove, ShotPrompt

PUSH_SCALE = 0.82  # window size at the tight end of a push in / pull out
PAN_SCALE = 0.85  # window size while panning or tilting
OVERSAMPLE = 3

Box = tuple[float, float, float, float]


def _smoothstep(t: float) -> float:
    return t * t * (3.0 - 2.0 * t)


def crop_box(move: CameraMove, progress: float, width: int, height: int) -> Box:
    """The keyframe region shown at ``progress`` (0..1, already eased) through the move."""
    if move in (CameraMove.push_in, CameraMove.pull_out):
        zoom = progress if move is CameraMove.push_in else 1.0 - progress
        scale = 1.0 - (1.0 - PUSH_SCALE) * zoom
        w, h = width * scale, height * scale
        x, y = (width - w) / 2, (height - h) / 2
    else:
        w, h = width * PAN_SCALE, height * PAN_SCALE
        x, y = (width - w) / 2, (height - h) / 2
        # Panning right reveals what is right of the start view: the window travels left -> right.
        if move is CameraMove.pan_right:
            x = (width - w) * progress
        elif move is CameraMove.pan_left:
            x = (width - w) * (1.0 - progress)
        elif move is CameraMove.tilt_down:
            y = (height - h) * progress
        else:  # tilt_up
            y = (height - h) * (1.0 - progress)
    return (x, y, x + w, y + h)


class CameraMoves:
    """VideoBackend animating the keyframe with the shot's camera move, eased in and out."""

    backend_id = "camera-moves"
    model_id = "filmgen-camera-v1"

    def frames(
        self, keyframe: Image.Image, prompt: ShotPrompt, n_frames: int, fps: int
    ) -> Iterator[Yuv420Frame]:
        if n_frames < 0:
            raise ValueError(f"n_frames must be >= 0, got {n_frames}")
        width, height = keyframe.size
        y, u, v = rgb_to_yuv(np.asarray(keyframe.convert("RGB")))
        chroma_size = ((width + 1) // 2, (height + 1) // 2)
        # Chroma is averaged down to 4:2:0 before oversampling: its fine planes are a quarter the size.
        planes = [
            (Image.fromarray(y), (width, height)),
            *((Image.fromarray(c).resize(chroma_size, Image.Resampling.BOX), chroma_size) for c in (u, v)),
        ]
        fine_planes = [
            (plane.resize((w * OVERSAMPLE, h * OVERSAMPLE), Image.Resampling.BILINEAR), (w, h), w / width, h / height)
            for plane, (w, h) in planes
        ]
        last = max(n_frames - 1, 1)
        for i in range(n_frames):
            x0, y0, x1, y1 = crop_box(prompt.camera, _smoothstep(i / last), width, height)
            yield Yuv420Frame(
                *(
                    np.asarray(
                        fine.resize(
                            size,
                            Image.Resampling.NEAREST,
                            box=(x0 * sx * OVERSAMPLE, y0 * sy * OVERSAMPLE, x1 * sx * OVERSAMPLE, y1 * sy * OVERSAMPLE),
                        )
                    )
                    for fine, size, sx, sy in fine_planes
                )
            )
