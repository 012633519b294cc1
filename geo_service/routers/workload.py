"""Each beat's workload and the rebalance of a draft (issue 13)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Path
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import JsonDict

from geo_service.accounts.access import PLANNING, PLANNING_READ, allow
from geo_service.accounts.deps import Connection
from geo_service.moments import MOMENT_DOC, MOMENT_PATTERN, parse_moment
from geo_service.routers.params import AppSettings, FromQuery, ToQuery
from geo_service.schemas.workload import BalanceAnswer, WorkloadAnswer
from geo_service.services.balance import plan_balance
from geo_service.services.workload import MAX_WEIGHT, Weights, plan_workload

router = APIRouter(tags=["planning"])

PlanCode = Annotated[str, Path(max_length=64, description="Beat plan code")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Unknown plan"}}


Weight = Annotated[float | None, Field(default=None, ge=0, le=MAX_WEIGHT)]


class PartWeights(BaseModel):
    """What each part weighs in the index (a part not given keeps its default)."""

    model_config = ConfigDict(extra="forbid")

    incidents: Weight = None
    rentals: Weight = None
    markers: Weight = None
    road_m: Weight = None
    area_m2: Weight = None
    cells: Weight = None


class CategoryWeights(BaseModel):
    """What one incident of a category counts for (a category not given keeps its default)."""

    model_config = ConfigDict(extra="forbid")

    theft: Weight = None
    fraud: Weight = None
    dispute: Weight = None
    traffic: Weight = None
    public_order: Weight = None
    assistance: Weight = None
    drowning: Weight = None
    non_police: Weight = None


MOMENT: JsonDict = {"pattern": MOMENT_PATTERN}


class WeightsBody(BaseModel):
    """Weights over the defaults (README, Beat planning) and the period of the incidents."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    weights: PartWeights | None = None
    categories: CategoryWeights | None = None
    from_: str | None = Field(
        default=None, alias="from", description=MOMENT_DOC, json_schema_extra=MOMENT
    )
    to: str | None = Field(default=None, description=MOMENT_DOC, json_schema_extra=MOMENT)

    def weights_of(self) -> Weights:
        """The defaults with these weights over them."""

        def given(model: BaseModel | None) -> dict[str, float]:
            return {} if model is None else model.model_dump(exclude_none=True)

        return Weights.of(given(self.weights), given(self.categories))


class BalanceBody(WeightsBody):
    """A rebalance: the tolerance around the mean index, weights, an optional cap on moves."""

    tolerance: float = Field(default=0.10, gt=0, lt=1, description="0.10 is ±10 % of the mean")
    max_moves: int | None = Field(default=None, ge=0, le=100_000, description="Cap on moved grids")
    seconds: float | None = Field(
        default=None, gt=0, le=3600, description="Time to search (at most the service's limit)"
    )


def _moment(text: str | None, name: str) -> datetime | None:
    return None if text in (None, "") else parse_moment(text, parameter=name)


async def _workload(conn: Connection, code: str, body: WeightsBody) -> Response:
    answer = await plan_workload(
        conn,
        plan=code,
        start=_moment(body.from_, "from"),
        end=_moment(body.to, "to"),
        weights=body.weights_of(),
    )
    return Response(
        orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json"
    )


@router.get(
    "/api/v1/plans/{code}/workload",
    summary="Each beat's workload in a plan",
    response_model=WorkloadAnswer,
    responses=NOT_FOUND,
    dependencies=[allow(PLANNING_READ)],
)
async def workload(
    conn: Connection, code: PlanCode, start: FromQuery = None, end: ToQuery = None
) -> Response:
    """Per beat: incidents of the period (weighted by category), rental houses, water markers,
    road length, area and patrol cells; the index (mean beat 100) and its deviation, contiguity,
    compactness (Polsby-Popper), villages split, community officer. Default weights."""
    return await _workload(conn, code, WeightsBody.model_validate({"from": start, "to": end}))


@router.post(
    "/api/v1/plans/{code}/workload",
    summary="Each beat's workload in a plan, with weights",
    response_model=WorkloadAnswer,
    responses=NOT_FOUND,
    dependencies=[allow(PLANNING_READ)],
)
async def workload_weighted(
    conn: Connection, code: PlanCode, body: Annotated[WeightsBody, Body()]
) -> Response:
    """The workload with the weights of the body (changes nothing)."""
    return await _workload(conn, code, body)


@router.post(
    "/api/v1/plans/{code}/balance",
    summary="Propose moves that balance the beats",
    response_model=BalanceAnswer,
    responses=NOT_FOUND,
    dependencies=[allow(PLANNING)],
)
async def balance(
    conn: Connection,
    settings: AppSettings,
    code: PlanCode,
    body: Annotated[BalanceBody, Body()],
) -> Response:
    """Moves bringing every beat within the tolerance of the mean index with the fewest moved
    grids (then the fewest villages split, then the least workload moved), every beat
    contiguous, locked grids and beats in place; each move says which beat it relieves. When
    the tolerance cannot be met, says so and gives the best found. Changes nothing: apply the
    moves (``patch``) to a draft with PATCH /api/v1/plans/{code}/grids."""
    seconds = min(body.seconds or settings.balance_seconds, settings.balance_seconds)
    answer = await plan_balance(
        conn,
        plan=code,
        start=_moment(body.from_, "from"),
        end=_moment(body.to, "to"),
        weights=body.weights_of(),
        tolerance=body.tolerance,
        max_moves=body.max_moves,
        seconds=seconds,
        exact_max_grids=settings.balance_exact_max_grids,
    )
    return Response(
        orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json"
    )
