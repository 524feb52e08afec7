"""Shapes shared by every resource: the error body and list envelopes."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field

T = TypeVar("T")

MAX_PAGE = 200
MAX_OFFSET = 1_000_000_000
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"at most {MAX_PAGE} a page")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="how many to skip")]


class ErrorDetail(BaseModel):
    code: str = Field(examples=["task_not_open"])
    message: str = Field(examples=["user task 6d7dfc4b-… is no longer open"])
    field: str | None = Field(None, description="the request field at fault, when there is one",
                              examples=["variables.approved"])
    file: str | None = Field(None, description="deployments: the file at fault")
    line: int | None = Field(None, description="deployments: the line at fault")
    element_id: str | None = Field(None, description="deployments: the BPMN element at fault")
    candidates: list[str] | None = Field(None, description="ambiguous matches, when there are several")


class ErrorOut(BaseModel):
    error: ErrorDetail


class ListOut(BaseModel, Generic[T]):
    data: list[T]
    count: int = Field(description="how many match in all, across every page (see count_exact)")
    count_exact: bool = Field(True, description=(
        "false when `count` is an estimate: where more than 10,000 rows match, counting them would walk "
        "every one. On PostgreSQL the planner's estimate (from the table statistics); on SQLite, for "
        "someone who may see only some cases but has worked on or been shared more than 2,000, the "
        "cases matching times the share of a sample of 1,000 of them they may see"))
