"""Where motion energy in the clonus band concentrates: the region when no landmark places
the part (a close-up of a foot)."""

from __future__ import annotations

import contextlib

import cv2
import numpy as np
from scipy import ndimage, signal

from vision.schema import Roi
from vision.signal.resample import mean_rate_hz


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


def _steady(frames: np.ndarray, fs: float, below_hz: float) -> np.ndarray:
    """Take the camera's slow wandering (below ``below_hz``) out of the (n, h, w) float32 stack,
    in place: each frame's shift against the middle one (ECC on the frame's outer ring),
    low-passed. Returns that shift per frame, (n, 2): what is at ``p`` in the middle frame is at
    ``p + shift`` in that frame.

    A hand-held phone wanders by pixels while the filmer's tremor shakes it; a sharp edge the
    wandering carries across pixels shows the tremor with a changing strength, which no fixed
    gain takes out, and lights up along its whole length. The tremor itself (in the band) is
    left to the per-block regression: its estimate here would be noisier than it is.
    """
    n, h, w = frames.shape
    if n < 16 or below_hz >= 0.45 * fs:  # too short to tell slow from fast
        return np.zeros((n, 2))
    ring = _ring(h, w).astype(np.uint8)
    mid = n // 2
    shift = np.zeros((n, 2), np.float32)
    for order in (range(mid + 1, n), range(mid - 1, -1, -1)):
        warp = np.eye(2, 3, dtype=np.float32)
        for i in order:
            # No convergence (a featureless ring) keeps the neighbour's shift.
            with contextlib.suppress(cv2.error):
                _, warp = cv2.findTransformECC(frames[mid], frames[i], warp, cv2.MOTION_TRANSLATION,
                                               _ECC_CRITERIA, ring, 1)  # fmt: skip
            shift[i] = warp[:, 2]
    sos = signal.butter(2, below_hz, fs=fs, output="sos")
    slow = signal.sosfiltfilt(sos, shift, axis=0)
    for i, (dx, dy) in enumerate(slow):
        m = np.float32([[1, 0, dx], [0, 1, dy]])
        frames[i] = cv2.warpAffine(frames[i], m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                   borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    return slow


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
    the frames first (``_steady``), so that the fit stays linear. Whole-frame changes
    (flicker, exposure) are taken out by removing each frame's mean. The map is in the middle
    frame's coordinates; the camera's slow shift of each frame from it, (n, 2) px, comes with it.
    """
    _, h, w = frames_gray.shape
    fs = mean_rate_hz(time_s)
    hi = min(band_hz[1], 0.45 * fs)
    sos = signal.butter(2, (band_hz[0], max(hi, band_hz[0] + 0.5)), btype="bandpass", fs=fs, output="sos")
    # Smoothed a little, so that brightness is linear in sub-pixel motion (no aliased texture).
    frames = np.stack([cv2.GaussianBlur(f, (0, 0), 1.0) for f in frames_gray.astype(np.float32)])
    shift = _steady(frames, fs, 0.5 * band_hz[0])
    frames -= frames.mean(axis=(1, 2), keepdims=True)
    mean_frame = frames.mean(axis=0)
    gx = cv2.Sobel(mean_frame, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(mean_frame, cv2.CV_32F, 0, 1, ksize=3) / 8
    motion = _block_motion(frames, sos, gx, gy, block_px)
    # The strongest power held for three quarters of a second (a quarter second's, at its
    # weakest over the next half second; three beats at 4 Hz): a short episode in a long clip
    # counts as much as it should, while a sweep or a step (the examiner's hand arriving, the
    # stretch, its release) counts less.
    # Only spans inside the recording count: a hand leaving at its last frame is not held
    # (mirrored at the end, as the filter's default does, it would be).
    power = ndimage.uniform_filter1d((motion * motion).sum(axis=-1), max(1, int(0.25 * fs)), axis=0)
    held = max(1, int(_SUSTAINED_S * fs))
    edge = "constant" if len(power) > 2 * held else "nearest"
    energy = ndimage.minimum_filter1d(power, held, axis=0, mode=edge, cval=0.0).max(axis=0)
    hb, wb = energy.shape
    out = np.full((h, w), float(np.median(energy)), np.float32)
    out[: hb * block_px, : wb * block_px] = np.repeat(np.repeat(energy, block_px, axis=0), block_px, axis=1)
    return out, shift


def _block_motion(frames: np.ndarray, sos: np.ndarray, gx: np.ndarray, gy: np.ndarray, k: int) -> np.ndarray:
    """Each ``k``×``k`` block's in-band motion relative to the camera, (n, h/k, w/k, 2)."""
    n, h, w = frames.shape
    hb, wb = h // k, w // k

    def blocks(a: np.ndarray) -> np.ndarray:  # (..., r·k, c·k) → (..., r, c) sums
        return a.reshape(*a.shape[:-2], a.shape[-2] // k, k, a.shape[-1] // k, k).sum(axis=(-3, -1))

    gxc, gyc = gx[: hb * k, : wb * k], gy[: hb * k, : wb * k]
    sxx, sxy, syy = blocks(gxc * gxc), blocks(gxc * gyc), blocks(gyc * gyc)
    bx = np.zeros((n, hb, wb), np.float32)
    by = np.zeros((n, hb, wb), np.float32)
    rows = max(k, 16 // k * k)  # rows in chunks (whole blocks) to bound memory
    for r0 in range(0, hb * k, rows):
        r1 = min(hb * k, r0 + rows)
        b = signal.sosfiltfilt(sos, frames[:, r0:r1, : wb * k], axis=0)
        bx[:, r0 // k : r1 // k] = blocks(b * gxc[r0:r1])
        by[:, r0 // k : r1 // k] = blocks(b * gyc[r0:r1])
    # The camera: the same fit over the outer ring of blocks (background and still reference).
    ring = _ring(hb, wb)
    cam_normal = np.array([[sxx[ring].sum(), sxy[ring].sum()], [sxy[ring].sum(), syy[ring].sum()]])
    cam_rhs = np.stack([bx[:, ring].sum(axis=1), by[:, ring].sum(axis=1)], axis=1)
    cam = -np.linalg.solve(cam_normal + 1e-6 * np.eye(2), cam_rhs.T).T  # (n, 2)
    # Per block (Σ g gᵀ + λ) d = −Σ g b gives its motion (no texture: pulled towards none).
    lam = 0.5 * k * k * float(np.mean(gx * gx + gy * gy)) + 1.0
    a, c, d = sxx + lam, sxy, syy + lam
    det = a * d - c * c
    motion = np.stack([-(d * bx - c * by) / det, -(a * by - c * bx) / det], axis=-1)  # (n, hb, wb, 2)
    # What the camera explains is taken out of each block by regression (a 2×2 gain per block:
    # how strongly an edge shows the camera's motion depends on its texture and direction).
    cc = cam.T @ cam + 1e-9 * np.eye(2)
    gain = np.einsum("tyxi,tj,jk->yxik", motion, cam, np.linalg.inv(cc))  # (hb, wb, 2, 2)
    return motion - np.einsum("yxik,tk->tyxi", gain, cam)


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
