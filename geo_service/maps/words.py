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
