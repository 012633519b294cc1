"""The planner's pages' words (web_map/templates/plan_words.json), in Chinese and English."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request

from geo_service.maps.words import Lang
from geo_service.web.render import templates_of


@lru_cache(maxsize=4)
def _plan_words(templates: Path) -> dict[str, dict[str, Any]]:
    words: dict[str, dict[str, Any]] = json.loads(
        (templates / "plan_words.json").read_text(encoding="utf-8")
    )
    return words


def plan_words(request: Request, lang: Lang) -> dict[str, Any]:
    """The planner's pages' words in one language (read once)."""
    return _plan_words(templates_of(request))[lang]
