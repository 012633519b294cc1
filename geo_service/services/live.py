"""The live map's questions: the board at a moment, and whether a stream's user may go on."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from geo_service.accounts.access import COMMAND_READ
from geo_service.accounts.deps import ENTER, enter_params
from geo_service.accounts.principal import Principal, Via
from geo_service.db import one
from geo_service.services.stream import Scope, scope_of
from geo_service.settings import Settings

BOARD = "SELECT command_board(%s, %s, %s, %s, %s, %s)"


async def board_at(
    conn: psycopg.AsyncConnection, settings: Settings, *, at: datetime
) -> dict[str, Any]:
    """The board as the event log had it at this moment, with the calls awaiting their callback
    (sql/functions/73_live.sql)."""
    cur = await conn.execute(
        BOARD,
        (
            at,
            timedelta(hours=settings.board_window_hours),
            settings.on_scene_minutes_community,
            settings.on_scene_minutes_village,
            settings.diversion_target_minutes,
            timedelta(days=settings.callback_window_days),
        ),
    )
    board: dict[str, Any] = one(await cur.fetchone(), "the board")[0]
    return board


async def still_signed_in(
    pool: AsyncConnectionPool, settings: Settings, credential: tuple[Via, str]
) -> Scope | None:
    """The scope of a stream's user when their credential still opens and their role may read
    the stream; None when they were signed out, locked or removed, or their role changed."""
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(ENTER, enter_params(settings, credential))
        row = await cur.fetchone()
        if row is None:
            return None
        if Principal.from_row(row, credential[0]).role not in COMMAND_READ:
            return None
        return await scope_of(conn)
