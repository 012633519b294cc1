"""Hour-of-day (or day-of-week) animation of incidents: one heat frame per hour or weekday."""

from __future__ import annotations

import html
from typing import Any

import folium
import psycopg
from folium.plugins import HeatMapWithTime

from geo_service.maps.basemap import base_map
from geo_service.maps.elements import add_html, add_title, finish
from geo_service.maps.heatmap import GRADIENT, filter_form, filter_note
from geo_service.maps.words import Lang, add_words, words
from geo_service.services.incidents import FrameBy, IncidentFilter, heat
from geo_service.settings import Settings

# Frames together carry at most this many points (24 frames of ~800 points each).
MAX_FRAME_POINTS = 20_000

add_words(
    zh={
        "animation": "警情时段动画",
        "by_hour": "按小时",
        "by_weekday": "按星期",
        "frame_counts": "各帧警情数",
        "weekday_1": "周一",
        "weekday_2": "周二",
        "weekday_3": "周三",
        "weekday_4": "周四",
        "weekday_5": "周五",
        "weekday_6": "周六",
        "weekday_7": "周日",
        "animate_by": "动画",
    },
    en={
        "animation": "Incidents through the day and week",
        "by_hour": "by hour",
        "by_weekday": "by weekday",
        "frame_counts": "Incidents per frame",
        "weekday_1": "Mon",
        "weekday_2": "Tue",
        "weekday_3": "Wed",
        "weekday_4": "Thu",
        "weekday_5": "Fri",
        "weekday_6": "Sat",
        "weekday_7": "Sun",
        "animate_by": "Animate",
    },
)


def frame_labels(by: FrameBy, lang: Lang) -> list[tuple[int, str]]:
    """(frame, label) pairs: hours 0..23 as 'HH:00–HH:59', or ISO weekdays 1..7 by name."""
    w = words(lang)
    if by == "hour":
        return [(h, f"{h:02d}:00–{h:02d}:59") for h in range(24)]
    return [(d, w[f"weekday_{d}"]) for d in range(1, 8)]


async def animation_page(
    conn: psycopg.AsyncConnection,
    *,
    settings: Settings,
    lang: Lang,
    flt: IncidentFilter,
    by: FrameBy,
    links: str = "",
) -> tuple[folium.Map, dict[str, Any]]:
    """The animation page's map: a heat frame per hour (or weekday) and a bar chart of counts."""
    data = await heat(conn, flt=flt, frame_by=by, max_points=MAX_FRAME_POINTS)
    w = words(lang)
    labels = frame_labels(by, lang)
    frames = [[list(p) for p in data.frames.get(f, [])] for f, _ in labels]
    per_frame = [sum(p[2] for p in fr) for fr in frames]
    m = await base_map(conn, settings=settings, lang=lang)
    HeatMapWithTime(
        frames,
        index=[label for _, label in labels],
        name=w["animation"],
        radius=18,
        min_opacity=0.2,
        max_opacity=0.8,
        gradient={str(k): v for k, v in GRADIENT.items()},
        auto_play=False,
        position="bottomleft",
        max_speed=4,
        min_speed=0.5,
        speed_step=0.5,
    ).add_to(m)
    mode = (
        f' <label>{html.escape(w["animate_by"])} <select name="by">'
        f'<option value="hour"{" selected" if by == "hour" else ""}>{w["by_hour"]}</option>'
        f'<option value="weekday"{" selected" if by == "weekday" else ""}>'
        f"{w['by_weekday']}</option></select></label>"
    )
    add_title(
        m,
        f"{w['animation']} ({w['by_hour'] if by == 'hour' else w['by_weekday']})",
        filter_note(flt, lang),
        links + filter_form(flt, lang, mode),
    )
    top = max(per_frame, default=0) or 1
    bars = "".join(
        f'<div title="{html.escape(label)}: {n:,}" style="height:{max(1, round(60 * n / top))}px">'
        "</div>"
        for (_, label), n in zip(labels, per_frame, strict=True)
    )
    first, last = labels[0][1].split("–")[0], labels[-1][1].split("–")[0]
    add_html(
        m,
        (
            '<div class="gs-panel gs-legend gs-anim-legend" style="bottom: 110px">'
            f"<h2>{html.escape(w['frame_counts'])}</h2>"
            f'<div class="gs-bars">{bars}</div>'
            f'<div class="gs-ramp-labels" style="width:auto"><span>{html.escape(first)}</span>'
            f"<span>{html.escape(last)}</span></div>"
            f"<div>{html.escape(w['incidents'])}: <b>{sum(per_frame):,}</b> · "
            f"max {max(per_frame, default=0):,}</div>"
            + (f"<div><b>{html.escape(w['no_data'])}</b></div>" if not sum(per_frame) else "")
            + "</div>"
        ),
    )
    finish(m)
    return m, {
        "filter": flt.as_json(),
        "by": by,
        "h3_resolution": data.resolution,
        "frames": [
            {"frame": f, "label": label, "incidents": n}
            for (f, label), n in zip(labels, per_frame, strict=True)
        ],
    }
