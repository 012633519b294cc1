"""Checks before anything is stored: attributes, codes, geometry types, validity and topology."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from geo_service.ingest.imports.read import metric_transformer
from geo_service.ingest.imports.report import REFUSAL, REPAIR, SNAPPED, WARNING, ImportReport
from geo_service.ingest.load import CALLER_DETAILS, FIELD_LAYERS, masked_rows

# Areas below this many m² are rounding noise, never reported.
NOISE_M2 = 0.01
MAX_LISTED_ROWS = 200


@dataclass(frozen=True)
class LayerRules:
    """What a layer's rows must satisfy; the columns themselves come from load.LAYERS."""

    geometry: str | None  # "polygon", "point", "line" or None
    key: tuple[str, ...]  # unique within a file (and upserted on); () for append-only layers
    optional: frozenset[str] = frozenset()


def _columns(layer: str) -> tuple[str, ...]:
    """The columns the loader stages for a layer of the field's history."""
    return next(spec.columns for spec in FIELD_LAYERS if spec.layer == layer)


RULES: dict[str, LayerRules] = {
    "station": LayerRules("polygon", ("code",)),
    "village": LayerRules("polygon", ("code",)),
    "grid": LayerRules("polygon", ("code",)),
    "beat_plan": LayerRules(None, ("code",), frozenset({"effective_from"})),
    "beat": LayerRules(None, ("plan_code", "code")),
    "beat_grid": LayerRules(None, ("plan_code", "grid_code")),
    "person": LayerRules(None, ("code",), frozenset({"phone"})),
    "assignment": LayerRules(None, (), frozenset({"plan_code", "valid_to"})),
    "water_body": LayerRules("polygon", ("code",)),
    "water_marker": LayerRules(
        "point", ("code",), frozenset({"water_body_code", "installed_at", "last_inspected_at"})
    ),
    "rental_house": LayerRules(
        "point",
        ("code",),
        frozenset({"landlord", "phone", "rooms", "tenants", "last_fire_check_at"}),
    ),
    "camera": LayerRules("point", ("code",)),
    "place": LayerRules("point", ("code",)),
    "road": LayerRules("line", ("code",)),
    "incident": LayerRules("point", ("call_no",), frozenset(CALLER_DETAILS)),
    "position_fix": LayerRules("point", ()),
    "duty_shift": LayerRules(None, ("call_sign", "starts_at")),
    "incident_step": LayerRules(
        None, (), frozenset({"source", "call_sign", "result", "note", "lon", "lat"})
    ),
    "patrol_water": LayerRules(None, ("water_body_code", "marked_at"), frozenset({"unmarked_at"})),
    "inspection": LayerRules(
        None,
        ("client_id",),
        # every column of the loader's but what an inspection cannot be without
        frozenset(_columns("inspection")) - {"client_id", "kind", "code", "inspected_at", "result"},
    ),
    "sweep": LayerRules(None, ("name",), frozenset({"opened_by", "opened_at", "note"})),
    "sweep_grid": LayerRules(None, ("sweep_name", "grid_code")),
    "report": LayerRules(None, ("client_id",), frozenset({"status", "reporter", "person_code"})),
    "report_step": LayerRules(None, (), frozenset({"department", "note", "client_id"})),
}
# Phones of a layer, with the (fewest, most) digits, + and - their table's CHECK allows (None: no
# CHECK). A masked number (138****5678, as an export for a role that may not see it in full
# writes it) is refused by name, never stored.
PHONES: dict[str, dict[str, tuple[int, int] | None]] = {
    "incident": {"caller_phone": (3, 20)},
    "person": {"phone": (5, 20)},
    "rental_house": {"phone": None},
}
# Text a table holds to a length (characters).
LENGTHS: dict[str, dict[str, int]] = {"incident": {"address": 500, "description": 4000}}
GEOMETRY_TYPES = {
    "polygon": {"Polygon", "MultiPolygon"},
    "point": {"Point"},
    "line": {"LineString"},
}

# shapely.get_type_id → geom_type (the last, for -1, is a missing geometry)
TYPE_NAMES = np.array(
    [
        "Point",
        "LineString",
        "LinearRing",
        "Polygon",
        "MultiPoint",
        "MultiLineString",
        "MultiPolygon",
        "GeometryCollection",
        None,
    ],
    dtype=object,
)


def rows_text(rows: list[int]) -> str:
    """'row 3' or 'rows 3, 7, 9' (at most MAX_LISTED_ROWS shown)."""
    shown = ", ".join(str(r) for r in rows[:MAX_LISTED_ROWS])
    more = f" and {len(rows) - MAX_LISTED_ROWS} more" if len(rows) > MAX_LISTED_ROWS else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


def apply_mapping(
    frame: pd.DataFrame, columns: tuple[str, ...], mapping: dict[str, str]
) -> pd.DataFrame:
    """Source columns as the model's fields: --map field=column (copied, so one column may
    give two fields), then a
    case-insensitive match (KML readers capitalise 'Name')."""
    frame = frame.assign(
        **{field: frame[column] for field, column in mapping.items() if column in frame.columns}
    )
    lower = {str(c).lower(): c for c in frame.columns}
    renames: dict[str, str] = {}
    for field in columns:
        if field in frame.columns:
            continue
        if field.lower() in lower:
            renames[lower[field.lower()]] = field
        elif len(field) > 10 and field[:10].lower() in lower:  # a Shapefile's 10-letter names
            renames[lower[field[:10].lower()]] = field
    return frame.rename(columns=renames)


def check_attributes(
    report: ImportReport, frame: pd.DataFrame, columns: tuple[str, ...], rules: LayerRules
) -> None:
    """Missing columns, missing required values and duplicate keys, with row numbers."""
    wanted = [c for c in columns if c != "geom"]
    absent = [c for c in wanted if c not in frame.columns and c not in rules.optional]
    if absent:
        report.add(
            REFUSAL,
            "missing_attribute",
            f"the file has no column {', '.join(absent)} (columns: "
            f"{', '.join(map(str, frame.columns)) or 'none'}); rename with --map "
            f"{absent[0]}=COLUMN",
            codes=absent,
        )
    for column in wanted:
        if column not in frame.columns:
            frame[column] = ""
    for column in wanted:
        if column in rules.optional:
            continue
        if column not in absent:
            empty = frame[column].astype(str).str.strip() == ""
            refuse_rows(report, "missing_attribute", column, empty, f"{column} is empty in {{}}")
    if rules.key and not absent:
        keys = frame[list(rules.key)].astype(str)
        dup = keys.duplicated(keep=False).to_numpy()
        if dup.any():
            groups: dict[tuple, list[int]] = defaultdict(list)
            for row in np.flatnonzero(dup):
                groups[tuple(keys.iloc[row])].append(int(row) + 1)
            for key, rows in groups.items():
                label = "/".join(key)
                report.add(
                    REFUSAL,
                    "duplicate_code",
                    f"{'/'.join(rules.key)} {label} appears in {rows_text(rows)}",
                    rows=rows,
                    codes=[label],
                )


def check_values(report: ImportReport, frame: pd.DataFrame, layer: str) -> None:
    """Phones (masked, or not a number) and text too long for the table, by row and column."""
    for column, digits in PHONES.get(layer, {}).items():
        if column not in frame.columns:
            continue
        text = frame[column].astype(str).str.strip()
        masked = masked_rows(text)
        if masked:
            report.add(
                REFUSAL,
                "masked_phone",
                f"{column} is masked (like 138****5678) in {rows_text(masked)}: a file exported "
                "by a role that may not see phones in full holds them so; import one exported "
                f"by the command room, a leader or the command line, or leave {column} empty",
                rows=masked,
                codes=[column],
            )
        if digits is None:
            continue
        pattern = rf"[0-9+\-]{{{digits[0]},{digits[1]}}}"
        wrong = (text != "") & ~text.str.contains("*", regex=False)
        wrong &= ~text.str.fullmatch(pattern)
        refuse_rows(
            report,
            "phone",
            column,
            wrong,
            f"{column} is not a phone number ({digits[0]} to {digits[1]} digits, + or -) in {{}}: "
            + ", ".join(repr(v) for v in text[wrong].iloc[:3]),
        )
    for column, most in LENGTHS.get(layer, {}).items():
        if column not in frame.columns:
            continue
        long = frame[column].astype(str).str.strip().str.len() > most
        refuse_rows(
            report, "too_long", column, long, f"{column} is longer than {most} characters in {{}}"
        )


def refuse_rows(
    report: ImportReport, check: str, column: str, where: pd.Series, message: str
) -> None:
    """Refuse the rows (numbered from 1) where a column's test holds, if any: the first {} of
    the message names them (the rest is kept as written, values from the file included)."""
    if where.any():
        rows = (np.flatnonzero(where.to_numpy()) + 1).tolist()
        said = message.replace("{}", rows_text(rows), 1)
        report.add(REFUSAL, check, said, rows=rows, codes=[column])


def check_geometry_types(report: ImportReport, geoms: np.ndarray, rules: LayerRules) -> np.ndarray:
    """Refuse missing geometries and wrong types; single-part multi points/lines become single."""
    kind = rules.geometry
    assert kind is not None
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        rows = (np.flatnonzero(missing) + 1).tolist()
        report.add(REFUSAL, "missing_geometry", f"no geometry in {rows_text(rows)}", rows=rows)
    types = TYPE_NAMES[shapely.get_type_id(geoms)]  # shapely's names; None when missing
    if kind in ("point", "line"):
        single = (types == ("MultiPoint" if kind == "point" else "MultiLineString")) & (
            shapely.get_num_geometries(geoms) == 1
        )
        if single.any():
            geoms = geoms.copy()
            geoms[single] = shapely.get_geometry(geoms[single], 0)
            types[single] = "Point" if kind == "point" else "LineString"
    wrong = ~missing & ~np.isin(types, list(GEOMETRY_TYPES[kind]))
    if wrong.any():
        rows = (np.flatnonzero(wrong) + 1).tolist()
        found = sorted({str(t) for t in types[wrong]})
        report.add(
            REFUSAL,
            "geometry_type",
            f"{report.layer} needs {' or '.join(sorted(GEOMETRY_TYPES[kind]))} geometries; "
            f"{', '.join(found)} in {rows_text(rows)}",
            rows=rows,
        )
    return geoms


@cache
def _to_lonlat() -> Transformer:
    return Transformer.from_crs("EPSG:4549", "EPSG:4326", always_xy=True)


def metric(geoms: np.ndarray) -> np.ndarray:
    """Geometries in EPSG:4549 (CGCS2000 / 3-degree GK, CM 120°E), for areas in m²."""

    def project(xy: np.ndarray) -> np.ndarray:
        x, y = metric_transformer().transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(np.asarray(geoms), project)


def _location(metric_geom: shapely.Geometry) -> list[float]:
    """[lon, lat] of a point inside a metric geometry."""
    p = shapely.point_on_surface(metric_geom)
    lon, lat = _to_lonlat().transform(p.x, p.y)
    return [round(float(lon), 7), round(float(lat), 7)]


def repair(
    report: ImportReport, geoms: np.ndarray, codes: np.ndarray, rules: LayerRules, strict: bool
) -> np.ndarray:
    """Invalid geometries repaired (listed), or refused with --strict or when nothing is left."""
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    invalid = present & ~shapely.is_valid(geoms)
    if not invalid.any():
        return geoms
    geoms = geoms.copy()
    for i in np.flatnonzero(invalid):
        reason = shapely.is_valid_reason(geoms[i])
        row, code = int(i) + 1, str(codes[i])
        if strict:
            report.add(
                REFUSAL,
                "invalid_geometry",
                f"row {row} ({code}): invalid geometry, {reason} (--strict refuses repairs)",
                rows=[row],
                codes=[code],
            )
            continue
        fixed = _make_valid(geoms[i], rules.geometry)
        if fixed is None:
            report.add(
                REFUSAL,
                "invalid_geometry",
                f"row {row} ({code}): invalid geometry ({reason}) with nothing left to repair",
                rows=[row],
                codes=[code],
            )
            continue
        before = shapely.area(metric(np.array([geoms[i]]))[0]) if rules.geometry == "polygon" else 0
        after = shapely.area(metric(np.array([fixed]))[0]) if rules.geometry == "polygon" else 0
        report.add(
            REPAIR,
            "invalid_geometry",
            f"row {row} ({code}): {reason}; repaired"
            + (f", area now {after:.1f} m²" if rules.geometry == "polygon" else ""),
            rows=[row],
            codes=[code],
            area_m2=round(float(after - before), 3) if rules.geometry == "polygon" else None,
            location=_location(metric(np.array([fixed]))[0]),
        )
        geoms[i] = fixed
    return geoms


def _make_valid(geom: shapely.Geometry, kind: str | None) -> shapely.Geometry | None:
    """A valid geometry of the layer's type from an invalid one, or None when none is left."""
    fixed = shapely.make_valid(geom, method="structure", keep_collapsed=False)
    if kind == "polygon":
        parts = [p for p in shapely.get_parts(fixed) if p.geom_type == "Polygon" and p.area > 0]
        return shapely.MultiPolygon(parts) if parts else None
    if kind == "line":
        parts = [p for p in shapely.get_parts(fixed) if p.geom_type == "LineString"]
        return parts[0] if len(parts) == 1 else None
    return fixed if fixed.is_valid and not fixed.is_empty else None


# --- topology of villages and grids -------------------------------------------------------


def check_tiling(
    report: ImportReport,
    geoms: np.ndarray,
    codes: np.ndarray,
    parents: np.ndarray,
    parent_geoms: dict[str, shapely.Geometry],
    *,
    child: str,
    parent: str,
    sliver_m2: float,
) -> np.ndarray:
    """Pieces (grids or villages) against the areas they must tile (villages or the station).

    Overlaps between pieces and gaps inside each parent are reported with their area in m² and
    a location; those under `sliver_m2` are snapped (an overlap leaves the higher-coded piece,
    a gap joins the piece it shares the longest border with) and listed as snapped. A piece
    outside its parent, or spanning two, is reported. Returns the (possibly snapped) geometries.
    """
    geoms = geoms.copy()
    if parent_geoms and tiles_exactly(geoms, parents, parent_geoms):
        return geoms  # the usual case, proven at a fraction of the overlay's cost
    flagged = _overlaps(report, geoms, codes, child=child, sliver_m2=sliver_m2)
    if parent_geoms:
        geoms, candidates = _gaps(
            report, geoms, codes, parents, parent_geoms, flagged, child, parent, sliver_m2
        )
        _outside(
            report,
            geoms,
            codes,
            parents,
            parent_geoms,
            candidates,
            child=child,
            parent=parent,
            sliver_m2=sliver_m2,
        )
    return geoms


def _overlaps(
    report: ImportReport, geoms: np.ndarray, codes: np.ndarray, *, child: str, sliver_m2: float
) -> set[int]:
    """Report (or snap) overlapping pieces; returns the indexes involved in a reported overlap."""
    flagged: set[int] = set()
    if shapely.coverage_is_valid(geoms):  # a proper coverage: no overlaps anywhere
        return flagged
    # only pieces with edges that do not match their neighbours' can overlap
    edges = shapely.coverage_invalid_edges(geoms)
    suspects = np.flatnonzero(~(shapely.is_missing(edges) | shapely.is_empty(edges)))
    m = np.empty(len(geoms), dtype=object)
    m[suspects] = metric(geoms[suspects])
    tree = shapely.STRtree(m[suspects])
    pairs = np.concatenate(
        [
            tree.query(m[suspects], predicate="overlaps"),
            tree.query(m[suspects], predicate="contains"),
        ],
        axis=1,
    )
    pairs = suspects[pairs[:, pairs[0] != pairs[1]]] if pairs.size else pairs
    # overlaps are found from both sides, duplicates too: keep each pair once
    seen: set[tuple[int, int]] = set()
    for a, b in pairs.T:
        a, b = (int(a), int(b)) if codes[a] <= codes[b] else (int(b), int(a))
        if (a, b) in seen:
            continue
        seen.add((a, b))
        shared = shapely.intersection(m[a], m[b])
        area = float(shapely.area(shared))
        if area <= NOISE_M2:
            continue
        where = _location(shared)
        pair = [str(codes[a]), str(codes[b])]
        if area < sliver_m2:
            geoms[b] = _polygonal(shapely.difference(geoms[b], geoms[a]))
            report.add(
                SNAPPED,
                "overlap",
                f"{child}s {pair[0]} and {pair[1]} overlapped by {area:.2f} m²; the overlap "
                f"stays with {pair[0]}",
                rows=[a + 1, b + 1],
                codes=pair,
                area_m2=round(area, 3),
                location=where,
            )
        else:
            flagged.update((a, b))
            report.add(
                WARNING,
                "overlap",
                f"{child}s {pair[0]} and {pair[1]} overlap by {area:.1f} m²",
                rows=[a + 1, b + 1],
                codes=pair,
                area_m2=round(area, 3),
                location=where,
            )
    return flagged


def _gaps(
    report: ImportReport,
    geoms: np.ndarray,
    codes: np.ndarray,
    parents: np.ndarray,
    parent_geoms: dict[str, shapely.Geometry],
    flagged: set[int],
    child: str,
    parent: str,
    sliver_m2: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Report (or snap) the parts of each parent that no piece covers.

    Returns the geometries and the indexes of the pieces of parents that something sticks out
    of (the only pieces the outside check needs to look at).
    """
    members: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(parents):
        members[str(p)].append(i)
    names = [code for code in sorted(members) if code in parent_geoms]
    unions = np.array(
        [
            shapely.union_all(geoms[members[c]])
            if flagged.intersection(members[c])
            else shapely.coverage_union_all(geoms[members[c]])
            for c in names
        ],
        dtype=object,
    )
    outlines = np.array([parent_geoms[c] for c in names], dtype=object)
    # where the pieces' union is the parent vertex for vertex, nothing is uncovered and nothing
    # sticks out: only the others need the (slower) overlay differences
    differ = ~_same_vertices(unions, outlines)
    uncovered = np.full(len(names), shapely.Polygon(), dtype=object)
    sticking = uncovered.copy()
    uncovered[differ] = shapely.difference(outlines[differ], unions[differ])
    sticking[differ] = shapely.difference(unions[differ], outlines[differ])
    for k in np.flatnonzero(~shapely.is_empty(uncovered)):
        code, idx = names[k], members[names[k]]
        holes = shapely.get_parts(uncovered[k])
        holes = holes[shapely.get_type_id(holes) == 3]  # polygons
        if not len(holes):
            continue
        for hole, hole_m in zip(holes, metric(holes), strict=True):
            area = float(shapely.area(hole_m))
            if area <= NOISE_M2:
                continue
            where = _location(hole_m)
            if area < sliver_m2:
                touching = [i for i in idx if shapely.intersects(geoms[i], hole)]
                if touching:
                    borders = [
                        shapely.length(shapely.intersection(geoms[i].boundary, hole))
                        for i in touching
                    ]
                    best = touching[int(np.argmax(borders))]
                    geoms[best] = _polygonal(shapely.union(geoms[best], hole))
                    report.add(
                        SNAPPED,
                        "gap",
                        f"a gap of {area:.2f} m² in {parent} {code} joined {child} {codes[best]}",
                        rows=[best + 1],
                        codes=[code, str(codes[best])],
                        area_m2=round(area, 3),
                        location=where,
                    )
                    continue
            report.add(
                WARNING,
                "gap",
                f"a gap of {area:.1f} m² in {parent} {code} that no {child} covers",
                codes=[code],
                area_m2=round(area, 3),
                location=where,
            )
    out = [i for k in np.flatnonzero(~shapely.is_empty(sticking)) for i in members[names[k]]]
    return geoms, np.array(sorted(out), dtype=int)


def _same_vertices(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether each pair of polygonal geometries has exactly the same parts, rings and vertices
    (in any order and orientation), so that each is the other's point set. False (the caller
    then computes) whenever a vertex differs, even when the point sets would not."""
    a, b = _normalized_multi(a), _normalized_multi(b)
    return shapely.equals_exact(a, b, tolerance=0.0) & ~shapely.is_empty(a)


def _normalized_multi(geoms: np.ndarray) -> np.ndarray:
    """Polygons as one-part MultiPolygons, everything in GEOS's normal form."""
    return shapely.normalize(as_multi(geoms))


def as_multi(geoms: np.ndarray) -> np.ndarray:
    """Polygons as one-part MultiPolygons (a new array; other geometries as they are)."""
    geoms = np.asarray(geoms, dtype=object).copy()
    single = shapely.get_type_id(geoms) == shapely.GeometryType.POLYGON
    if single.any():
        geoms[single] = shapely.multipolygons(geoms[single], indices=np.arange(single.sum()))
    return geoms


def tiles_exactly(
    geoms: np.ndarray, parents: np.ndarray, parent_geoms: dict[str, shapely.Geometry]
) -> bool:
    """Whether the pieces of each parent tile it exactly, edge for edge: a proof without overlay.

    With shells counter-clockwise and holes clockwise, the edges of a parent's pieces and of
    its outline reversed cancel out exactly when the pieces, counted with multiplicity, are the
    outline everywhere: no gap, no overlap, nothing outside. With outlines that do not overlap
    each other, no two pieces overlap either. False means "look closer" (an edge split
    differently, a vertex off by a bit, a missing parent...), not that something is wrong.
    """
    names, owner = np.unique(np.asarray(parents).astype(str), return_inverse=True)
    if not len(geoms) or any(name not in parent_geoms for name in names):
        return False
    if (shapely.is_missing(geoms) | shapely.is_empty(geoms)).any():
        return False
    outlines = np.array([parent_geoms[name] for name in names], dtype=object)
    if len(outlines) > 1 and not shapely.coverage_is_valid(outlines):
        return False
    keys, signs = zip(
        _edges(geoms, owner, 1), _edges(outlines, np.arange(len(outlines)), -1), strict=True
    )
    edges = pd.DataFrame(np.concatenate(keys), columns=["owner", "x0", "y0", "x1", "y1"])
    edges["sign"] = np.concatenate(signs)
    return not edges.groupby(["owner", "x0", "y0", "x1", "y1"], sort=False)["sign"].sum().any()


def _edges(polygons: np.ndarray, owner: np.ndarray, sign: int) -> tuple[np.ndarray, np.ndarray]:
    """Every edge of the oriented rings as (owner, x and y of its lower end, of its upper end),
    with `sign` when it runs from lower to upper end and -`sign` when it runs back."""
    xy, ring, ring_owner = _ring_points(shapely.orient_polygons(polygons, exterior_cw=False))
    inside = (ring[:-1] == ring[1:]) & (xy[:-1] != xy[1:]).any(axis=1)
    a, b = xy[:-1][inside], xy[1:][inside]
    up = (a[:, 0] < b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] < b[:, 1]))
    low, high = np.where(up[:, None], a, b), np.where(up[:, None], b, a)
    who = owner[ring_owner[ring[:-1][inside]]].astype(float)
    return np.column_stack([who, low, high]), np.where(up, sign, -sign)


def _ring_points(polygons: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rings' points: coordinates, each point's ring, and each ring's polygon (index)."""
    xy, of = shapely.get_coordinates(polygons, return_index=True)
    starts = np.flatnonzero(np.r_[True, of[1:] != of[:-1]])
    rank = np.cumsum(np.r_[True, of[1:] != of[:-1]]) - 1
    ends = np.r_[starts[1:] - 1, len(xy) - 1]
    at_start = (xy == xy[starts][rank]).all(axis=1)
    # a ring never passes its start again before it closes: one ring each when the start
    # comes back only as the last point (the usual grid, with no hole and one part)
    if (
        len(starts) == len(polygons)
        and (np.bincount(rank, at_start) == 2).all()
        and at_start[ends].all()
    ):
        return xy, rank, np.arange(len(polygons))
    parts, part_of = shapely.get_parts(polygons, return_index=True)
    rings, ring_of = shapely.get_rings(parts, return_index=True)
    xy, point_ring = shapely.get_coordinates(rings, return_index=True)
    return xy, point_ring, part_of[ring_of]


def _outside(
    report: ImportReport,
    geoms: np.ndarray,
    codes: np.ndarray,
    parents: np.ndarray,
    parent_geoms: dict[str, shapely.Geometry],
    candidates: np.ndarray,
    *,
    child: str,
    parent: str,
    sliver_m2: float,
) -> None:
    """Report pieces that stick out of their parent, and those spanning two parents; a sliver
    outside is snapped (clipped to the parent)."""
    if not len(candidates):
        return
    names = list(parent_geoms)
    outlines = metric(np.array([parent_geoms[n] for n in names], dtype=object))
    tree = shapely.STRtree(outlines)
    for i in candidates:
        own = parent_geoms[str(parents[i])]
        if shapely.covers(own, geoms[i]):
            continue
        piece = metric(geoms[[i]])[0]
        out = shapely.difference(piece, metric(np.array([own], dtype=object))[0])
        area = float(shapely.area(out))
        if area <= NOISE_M2:
            continue
        others = [
            names[j]
            for j in tree.query(piece, predicate="intersects")
            if names[j] != parents[i]
            and shapely.area(shapely.intersection(piece, outlines[j])) > NOISE_M2
        ]
        row, code = int(i) + 1, str(codes[i])
        where = _location(out)
        if area < sliver_m2:
            geoms[i] = _polygonal(shapely.intersection(geoms[i], own))
            report.add(
                SNAPPED,
                "outside",
                f"{child} {code} reached {area:.2f} m² outside {parent} {parents[i]}; clipped",
                rows=[row],
                codes=[code, str(parents[i])],
                area_m2=round(area, 3),
                location=where,
            )
            continue
        if others:
            message = (
                f"{child} {code} spans {parent}s {parents[i]} and {', '.join(sorted(others))}: "
                f"{area:.1f} m² lie outside {parent} {parents[i]}"
            )
            check = "spans"
        else:
            message = f"{child} {code} reaches {area:.1f} m² outside {parent} {parents[i]}"
            check = "outside"
        report.add(
            WARNING,
            check,
            message,
            rows=[row],
            codes=[code, str(parents[i]), *sorted(others)],
            area_m2=round(area, 3),
            location=where,
        )


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygons of a result as one valid MultiPolygon."""
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    parts = [p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and p.area > 0]
    return shapely.MultiPolygon(parts)
