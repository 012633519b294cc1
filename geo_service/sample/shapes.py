"""Random shapes and point sets in metric coordinates, shared by the stages."""

from __future__ import annotations

import numpy as np
import shapely
from shapely import Geometry
from shapely.geometry import Polygon


def star_polygon(
    rng: np.random.Generator,
    centre: np.ndarray,
    n: int,
    amp: float,
    kmax: int,
    k2: float = 0.0,
    decay: float = 1.0,
) -> Polygon:
    """A smooth star-shaped blob of unit mean radius: a sum of a few cosine harmonics."""
    theta = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    k = np.arange(2, kmax + 1)
    a = rng.uniform(0.3, 1.0, k.size) * amp / k**decay
    a[0] += k2
    phase = rng.uniform(0.0, 2 * np.pi, k.size)
    r = 1.0 + (a[:, None] * np.cos(k[:, None] * theta + phase[:, None])).sum(axis=0)
    r = np.maximum(r, 0.25)
    return Polygon(centre + np.column_stack([r * np.cos(theta), r * np.sin(theta)]))


def scaled(poly: Polygon, centre: np.ndarray, factor: float) -> Polygon:
    """A polygon scaled about centre."""
    return shapely.transform(poly, lambda c: centre + (c - centre) * factor)


def sample_in(rng: np.random.Generator, poly: Geometry, n: int) -> np.ndarray:
    """n uniform random points inside a (multi)polygon."""
    shapely.prepare(poly)
    minx, miny, maxx, maxy = poly.bounds
    frac = max(poly.area / ((maxx - minx) * (maxy - miny)), 0.01)
    out = []
    got = 0
    while got < n:
        m = int((n - got) / frac * 1.3) + 16
        cand = rng.uniform((minx, miny), (maxx, maxy), size=(m, 2))
        cand = cand[shapely.contains_xy(poly, cand[:, 0], cand[:, 1])]
        out.append(cand)
        got += len(cand)
    return np.vstack(out)[:n]


def nearest(pts: np.ndarray, centres: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Index of the nearest centre for each point (chunked brute force)."""
    out = np.empty(len(pts), dtype=np.int64)
    for s in range(0, len(pts), chunk):
        p = pts[s : s + chunk]
        d = ((p[:, None, :] - centres[None, :, :]) ** 2).sum(-1)
        out[s : s + chunk] = d.argmin(axis=1)
    return out


def kmeans_pick(rng: np.random.Generator, pts: np.ndarray, k: int, iters: int = 12) -> np.ndarray:
    """k well-spread points chosen among pts (Lloyd iterations, then snapped to candidates)."""
    if len(pts) <= k:
        return pts.copy()
    centres = pts[rng.choice(len(pts), k, replace=False)].copy()
    for _ in range(iters):
        lab = nearest(pts, centres)
        cnt = np.bincount(lab, minlength=k)
        sums = np.zeros((k, 2))
        np.add.at(sums, lab, pts)
        ok = cnt > 0
        centres[ok] = sums[ok] / cnt[ok, None]
    used = np.zeros(len(pts), dtype=bool)
    out = np.empty((k, 2))
    for i, c in enumerate(centres):
        d = np.hypot(*(pts - c).T)
        d[used] = np.inf
        j = int(np.argmin(d))
        used[j] = True
        out[i] = pts[j]
    return out


def wiggly_path(
    rng: np.random.Generator, a: np.ndarray, b: np.ndarray, amp: float, step: float
) -> np.ndarray:
    """Points from a to b with a gentle sideways wiggle (a function of the chord: no loops)."""
    d = b - a
    length = float(np.hypot(*d))
    n = max(2, int(np.ceil(length / step)) + 1)
    t = np.linspace(0.0, 1.0, n)
    k = np.arange(1, 4)
    coef = rng.normal(0.0, amp * length, k.size) / k**1.5
    off = (coef[:, None] * np.sin(np.pi * k[:, None] * t)).sum(axis=0)
    normal = np.array([-d[1], d[0]]) / max(length, 1e-9)
    return a + t[:, None] * d + off[:, None] * normal
