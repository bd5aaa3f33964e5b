"""Where motion energy in the clonus band concentrates: the region when no landmark places
the part (a close-up of a foot)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
from scipy import ndimage, signal

from vision.schema import Roi
from vision.signal.rate import mean_rate_hz


def _ring(h: int, w: int, inner: float = 0.03, outer: float = 0.2) -> np.ndarray:
    """The frame's outer ring (between ``inner`` and ``outer`` of each side): mostly the
    background and the still reference, even in a close-up."""
    m_in, m_out = round(inner * min(h, w)), max(round(outer * min(h, w)), 2)
    ring = np.zeros((h, w), bool)
    ring[m_in : h - m_in, m_in : w - m_in] = True
    ring[m_out : h - m_out, m_out : w - m_out] = False
    return ring


# Band motion held this long (after a quarter second's mean) is a rhythm; a sweep is shorter.
_SUSTAINED_S = 0.5

_ECC_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 1e-3)


def _blurred(image: np.ndarray) -> np.ndarray:
    """Smoothed a little, so that brightness is linear in sub-pixel motion (no aliased texture)."""
    return cv2.GaussianBlur(image.astype(np.float32), (0, 0), 1.0)


def _slow_shift(frames_gray: np.ndarray, fs: float, below_hz: float) -> np.ndarray:
    """The camera's slow wandering (below ``below_hz``): each frame's shift against the middle
    one (ECC on the frame's outer ring, each frame smoothed as it comes), low-passed; (n, 2):
    what is at ``p`` in the middle frame is at ``p + shift`` in that frame.

    A hand-held phone wanders by pixels while the filmer's tremor shakes it; a sharp edge the
    wandering carries across pixels shows the tremor with a changing strength, which no fixed
    gain takes out, and lights up along its whole length. So the wandering is taken out of the
    frames (``_steadied``); the tremor itself (in the band) is left to the per-block
    regression: its estimate here would be noisier than it is.
    """
    n, h, w = frames_gray.shape
    if n < 16 or below_hz >= 0.45 * fs:  # too short to tell slow from fast
        return np.zeros((n, 2))
    ring = _ring(h, w).astype(np.uint8)
    mid = n // 2
    middle = _blurred(frames_gray[mid])
    shift = np.zeros((n, 2), np.float32)

    def follow(order: range) -> None:
        warp = np.eye(2, 3, dtype=np.float32)
        for i in order:
            # No convergence (a featureless ring) keeps the neighbour's shift.
            with contextlib.suppress(cv2.error):
                _, warp = cv2.findTransformECC(middle, _blurred(frames_gray[i]), warp, cv2.MOTION_TRANSLATION,
                                               _ECC_CRITERIA, ring, 1)  # fmt: skip
            shift[i] = warp[:, 2]

    with ThreadPoolExecutor(1, thread_name_prefix="ecc") as pool:  # the two halves at once
        later = pool.submit(follow, range(mid + 1, n))
        follow(range(mid - 1, -1, -1))
        later.result()
    sos = signal.butter(2, below_hz, fs=fs, output="sos")
    return signal.sosfiltfilt(sos, shift, axis=0)


def _steadied(frames_gray: np.ndarray, shift: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Frames ``lo:hi`` smoothed, moved into the middle frame's place (``shift``) and each less
    its mean (flicker, exposure), as float32."""
    _, h, w = frames_gray.shape
    out = np.empty((hi - lo, h, w), np.float32)
    for k, i in enumerate(range(lo, hi)):
        m = np.float32([[1, 0, shift[i, 0]], [0, 1, shift[i, 1]]])
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        cv2.warpAffine(
            _blurred(frames_gray[i]), m, (w, h), dst=out[k], flags=flags, borderMode=cv2.BORDER_REPLICATE
        )
        out[k] -= out[k].mean()
    return out


# The map is worked out over this many frames at a time (with a second of the recording either
# side, where the band filter settles), so that memory does not grow with the recording.
_CHUNK_FRAMES = 512


def _chunks(n: int, pad: int) -> Iterator[tuple[int, int, int, int]]:
    """(lo, hi, keep_from, keep_to): frames ``lo:hi`` are filtered, ``keep_from:keep_to`` kept."""
    for start in range(0, n, _CHUNK_FRAMES):
        stop = min(n, start + _CHUNK_FRAMES)
        yield max(0, start - pad), min(n, stop + pad), start, stop


def band_energy_map(
    frames_gray: np.ndarray, time_s: np.ndarray, band_hz: tuple[float, float], block_px: int = 4
) -> np.ndarray:
    """Per-pixel motion energy in the clonus band relative to the camera, (h, w), in px², in the
    middle frame's coordinates (see ``band_energy``)."""
    return band_energy(frames_gray, time_s, band_hz, block_px)[0]


def band_energy(
    frames_gray: np.ndarray, time_s: np.ndarray, band_hz: tuple[float, float], block_px: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel motion energy in the clonus band relative to the camera, (h, w), in px².

    ``frames_gray`` is a small (n, h, w) uint8 stack. Band-passed brightness obeys
    ``b ≈ −∇I·d`` (brightness change ≈ gradient × motion), so each block of
    ``block_px``² pixels gives its in-band motion ``d(t)`` by least squares (Lucas–Kanade on
    the band-passed stack; a block without texture is pulled towards no motion, and pixel
    noise averages out). The camera's in-band motion (shake, the filmer's tremor) is the same
    fit over the frame's outer ring and is taken out of every block: edges the camera moves
    do not light up, skin the part moves does. The camera's slow wandering is taken out of
    the frames first (``_slow_shift``), so that the fit stays linear. Whole-frame changes
    (flicker, exposure) are taken out by removing each frame's mean. The map is in the middle
    frame's coordinates; the camera's slow shift of each frame from it, (n, 2) px, comes with it.
    The stack is worked on ``_CHUNK_FRAMES`` at a time: memory beyond the stack itself stays
    flat in the recording's length.
    """
    n, h, w = frames_gray.shape
    fs = mean_rate_hz(time_s)
    hi = min(band_hz[1], 0.45 * fs)
    sos = signal.butter(2, (band_hz[0], max(hi, band_hz[0] + 0.5)), btype="bandpass", fs=fs, output="sos")
    shift = _slow_shift(frames_gray, fs, 0.5 * band_hz[0])
    # A recording of one chunk (the usual exam) is steadied once, for its mean and its motion.
    whole = _steadied(frames_gray, shift, 0, n) if n <= _CHUNK_FRAMES else None
    mean_frame = np.zeros((h, w), np.float64)
    for lo, stop, *_ in _chunks(n, 0):
        mean_frame += (whole if whole is not None else _steadied(frames_gray, shift, lo, stop)).sum(axis=0)
    mean_frame = (mean_frame / max(1, n)).astype(np.float32)
    gx = cv2.Sobel(mean_frame, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(mean_frame, cv2.CV_32F, 0, 1, ksize=3) / 8
    fit = _BlockFit(gx, gy, block_px)
    motion = np.empty((n, fit.hb, fit.wb, 2), np.float32)
    cam = np.empty((n, 2))
    for lo, stop, keep_from, keep_to in _chunks(n, int(np.ceil(fs))):
        m, c = fit.motion(whole if whole is not None else _steadied(frames_gray, shift, lo, stop), sos)
        motion[keep_from:keep_to], cam[keep_from:keep_to] = (
            m[keep_from - lo : keep_to - lo],
            c[keep_from - lo : keep_to - lo],
        )
    fit.take_out_camera(motion, cam)
    # The strongest power held for three quarters of a second (a quarter second's, at its
    # weakest over the next half second; three beats at 4 Hz): a short episode in a long clip
    # counts as much as it should, while a sweep or a step (the examiner's hand arriving, the
    # stretch, its release) counts less.
    # Only spans inside the recording count: a hand leaving at its last frame is not held
    # (mirrored at the end, as the filter's default does, it would be).
    power = ndimage.uniform_filter1d(
        np.einsum("...i,...i->...", motion, motion), max(1, int(0.25 * fs)), axis=0
    )
    del motion
    held = max(1, int(_SUSTAINED_S * fs))
    edge = "constant" if len(power) > 2 * held else "nearest"
    energy = ndimage.minimum_filter1d(power, held, axis=0, mode=edge, cval=0.0).max(axis=0)
    hb, wb = energy.shape
    out = np.full((h, w), float(np.median(energy)), np.float32)
    out[: hb * block_px, : wb * block_px] = np.repeat(np.repeat(energy, block_px, axis=0), block_px, axis=1)
    return out, shift


class _BlockFit:
    """Each ``k``×``k`` block's in-band motion by least squares on the gradients of the mean
    frame (``gx``, ``gy``), and the camera's: the same fit over the frame's outer ring."""

    def __init__(self, gx: np.ndarray, gy: np.ndarray, k: int) -> None:
        h, w = gx.shape
        self.k, self.hb, self.wb = k, h // k, w // k
        self.gx, self.gy = gx[: self.hb * k, : self.wb * k], gy[: self.hb * k, : self.wb * k]
        self.sxx, self.sxy, self.syy = (
            self._sums(self.gx * self.gx),
            self._sums(self.gx * self.gy),
            self._sums(self.gy * self.gy),
        )
        self.ring = _ring(self.hb, self.wb)
        # (Σ g gᵀ + λ) d = −Σ g b per block: a block without texture is pulled towards no motion.
        self.lam = 0.5 * k * k * float(np.mean(gx * gx + gy * gy)) + 1.0

    def _sums(self, a: np.ndarray) -> np.ndarray:  # (..., r·k, c·k) → (..., r, c) sums
        k = self.k
        return a.reshape(*a.shape[:-2], a.shape[-2] // k, k, a.shape[-1] // k, k).sum(axis=(-3, -1))

    def motion(self, frames: np.ndarray, sos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each block's in-band motion, (n, hb, wb, 2), and the camera's, (n, 2), camera not yet
        taken out."""
        n, k, hb, wb = len(frames), self.k, self.hb, self.wb
        bx = np.zeros((n, hb, wb), np.float32)
        by = np.zeros((n, hb, wb), np.float32)
        for r0 in range(0, hb * k, k):  # a row of blocks at a time: the filter's copies stay small
            b = signal.sosfiltfilt(sos, frames[:, r0 : r0 + k, : wb * k], axis=0)
            bx[:, r0 // k] = self._sums(b * self.gx[r0 : r0 + k])[:, 0]
            by[:, r0 // k] = self._sums(b * self.gy[r0 : r0 + k])[:, 0]
        ring = self.ring
        sxx, sxy, syy = self.sxx, self.sxy, self.syy
        cam_normal = np.array([[sxx[ring].sum(), sxy[ring].sum()], [sxy[ring].sum(), syy[ring].sum()]])
        cam_rhs = np.stack([bx[:, ring].sum(axis=1), by[:, ring].sum(axis=1)], axis=1)
        cam = -np.linalg.solve(cam_normal + 1e-6 * np.eye(2), cam_rhs.T).T  # (n, 2)
        a, c, d = sxx + self.lam, sxy, syy + self.lam
        det = a * d - c * c
        return np.stack([-(d * bx - c * by) / det, -(a * by - c * bx) / det], axis=-1), cam

    @staticmethod
    def take_out_camera(motion: np.ndarray, cam: np.ndarray) -> None:
        """What the camera explains taken out of each block's motion, in place, by regression
        over the recording (a 2×2 gain per block: how strongly an edge shows the camera's
        motion depends on its texture and direction)."""
        spans = [slice(t0, t0 + _CHUNK_FRAMES) for t0 in range(0, len(motion), _CHUNK_FRAMES)]
        cross = sum(np.tensordot(motion[t], cam[t], axes=(0, 0)) for t in spans)  # (hb, wb, 2, 2)
        gain = cross @ np.linalg.inv(cam.T @ cam + 1e-9 * np.eye(2))
        for t in spans:
            motion[t] -= np.einsum("yxik,tk->tyxi", gain, cam[t])


def roi_from_energy(energy: np.ndarray) -> tuple[Roi, float]:
    """The blob where band energy concentrates (the oscillating part), and how much it stands
    out (ratio to the median block).
    """
    h, w = energy.shape
    block = max(4, min(h, w) // 10)
    energy = energy.copy()
    m = max(1, round(0.03 * min(h, w)))  # the outermost pixels: encoder and border artifacts
    floor = float(np.median(energy))
    energy[:m], energy[-m:], energy[:, :m], energy[:, -m:] = floor, floor, floor, floor
    pooled = cv2.blur(energy, (block, block))
    y, x = np.unravel_index(int(np.argmax(pooled)), pooled.shape)
    ratio = float(pooled[y, x] / (np.median(pooled) + 1e-9))
    floor = float(np.median(pooled))
    strong = (pooled >= floor + 0.4 * (pooled[y, x] - floor)).astype(np.uint8)
    _, labels = cv2.connectedComponents(strong)
    ys, xs = np.nonzero(labels == labels[y, x])
    pad = block
    x0, x1 = max(0, xs.min() - pad), min(w, xs.max() + 1 + pad)
    y0, y1 = max(0, ys.min() - pad), min(h, ys.max() + 1 + pad)
    return Roi(x=x0 / w, y=y0 / h, w=(x1 - x0) / w, h=(y1 - y0) / h), ratio
