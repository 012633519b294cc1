"""Words of the map pages in Chinese (the default) and English, and the page language type."""

from __future__ import annotations

from typing import Literal

Lang = Literal["zh", "en"]

_WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "town": "镇界",
        "villages": "村社",
        "village": "村社",
        "roads": "道路",
        "water": "水域",
        "name": "名称",
        "code": "编号",
        "kind": "类型",
        "legend": "图例",
        "count": "数量",
        "total": "合计",
        "window": "时间范围",
        "no_data": "该时间范围内没有数据",
        "maps": "地图",
        "home": "首页",
        "other_lang": "English",
    },
    "en": {
        "town": "Town boundary",
        "villages": "Villages",
        "village": "Village",
        "roads": "Roads",
        "water": "Water",
        "name": "Name",
        "code": "Code",
        "kind": "Kind",
        "legend": "Legend",
        "count": "Count",
        "total": "Total",
        "window": "Window",
        "no_data": "No data in this window",
        "maps": "Maps",
        "home": "Home",
        "other_lang": "中文",
    },
}


# The roles of people (person.role and assignment.role, migration 002) in words: the one list
# that every page and map showing people uses (the maps through ``words``, the pages through
# ``person_roles``).
_PERSON_ROLES: dict[Lang, dict[str, str]] = {
    "zh": {
        "community_officer": "社区民警",
        "auxiliary_officer": "辅警",
        "police_assistant": "警务助理",
        "grid_worker": "网格员",
        "village_cadre": "村干部",
        "volunteer": "义警",
    },
    "en": {
        "community_officer": "Community officer",
        "auxiliary_officer": "Auxiliary officer",
        "police_assistant": "Police assistant",
        "grid_worker": "Grid worker",
        "village_cadre": "Village cadre",
        "volunteer": "Volunteer",
    },
}


def person_roles(lang: Lang) -> dict[str, str]:
    """The words of people's roles in one language (a copy), keyed by role code."""
    return dict(_PERSON_ROLES[lang])


def add_words(*, zh: dict[str, str], en: dict[str, str]) -> None:
    """Add a map module's words in both languages (same keys; a clashing text raises)."""
    if set(zh) != set(en):
        raise ValueError(f"zh and en words differ in keys: {sorted(set(zh) ^ set(en))}")
    for lang, new in (("zh", zh), ("en", en)):
        for key, text in new.items():
            old = _WORDS[lang].get(key)
            if old is not None and old != text:
                raise ValueError(f"word {key!r} ({lang}) is already {old!r}, not {text!r}")
        _WORDS[lang].update(new)


def words(lang: Lang) -> dict[str, str]:
    """All map words in one language (a copy)."""
    return dict(_WORDS[lang])


for _lang in ("zh", "en"):
    _WORDS[_lang].update(_PERSON_ROLES[_lang])
