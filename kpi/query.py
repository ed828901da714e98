"""What a caller may ask for (KpiQuery) and what a viewer may see (Scope), validated by pydantic."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bpo_kpi.config import Config
from kpi.catalog import DIMENSIONS, KPIS, PERIODS

DimensionName = Literal["vendor", "site", "workflow", "market", "priority", "policy", "reviewer_id"]
Period = Literal["day", "week", "month", "quarter"]


class KpiQuery(BaseModel):
    """A KPI table request: group by dimensions and period, filtered by dates and values."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    by: tuple[DimensionName, ...] = Field(default=(), description="Dimensions to group by.")
    period: Period | None = Field(None, description="Period to group by (reporting time zone).")
    start: dt.date | None = Field(None, description="First local day included (decided_at).")
    end: dt.date | None = Field(None, description="Last local day included (decided_at).")
    where: dict[DimensionName, tuple[str, ...]] = Field(
        default_factory=dict, description="Keep only these values of a dimension."
    )
    kpis: tuple[str, ...] | None = Field(None, description="KPIs to compute (default: all).")

    @field_validator("by")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("a dimension may appear only once in `by`")
        return value

    @field_validator("kpis")
    @classmethod
    def _known(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None:
            unknown = [k for k in value if k not in KPIS]
            if unknown:
                raise ValueError(f"unknown KPI(s) {', '.join(unknown)}; known: {', '.join(KPIS)}")
        return value

    @model_validator(mode="after")
    def _dates(self) -> KpiQuery:
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}")
        return self

    def kpi_list(self) -> list[str]:
        return list(self.kpis) if self.kpis else list(KPIS)


class Scope(BaseModel):
    """The slice of data a viewer may see; empty tuples mean unrestricted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: str = "admin"
    vendors: tuple[str, ...] = ()
    workflows: tuple[str, ...] = ()
    markets: tuple[str, ...] = ()
    see_reviewers: bool = True

    @classmethod
    def for_role(cls, config: Config, role: str) -> Scope:
        if role not in config.roles:
            raise PermissionError(
                f"unknown role {role!r}; configured roles: {', '.join(config.roles)}"
            )
        r = config.roles[role]
        return cls(
            role=role,
            vendors=tuple(r.vendors),
            workflows=tuple(r.workflows),
            markets=tuple(r.markets),
            see_reviewers=r.see_reviewers,
        )

    def restrictions(self) -> dict[str, tuple[str, ...]]:
        out = {"vendor": self.vendors, "workflow": self.workflows, "market": self.markets}
        return {k: v for k, v in out.items() if v}


assert set(DIMENSIONS) == set(DimensionName.__args__)  # type: ignore[attr-defined]
assert set(PERIODS) == set(Period.__args__)  # type: ignore[attr-defined]


def parse_where(items: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Filters written `DIM=VALUE` or `DIM=VALUE1,VALUE2` (the CLI's repeatable --where) as a
    `KpiQuery.where`: the values of a dimension named more than once are merged, in order.
    Dimensions are checked by `KpiQuery`."""
    where: dict[str, list[str]] = {}
    for item in items:
        dim, sep, values = item.partition("=")
        if not sep or not values:
            raise ValueError(f"--where {item!r}: use DIM=VALUE or DIM=VALUE1,VALUE2")
        kept = where.setdefault(dim.strip(), [])
        for value in (v.strip() for v in values.split(",")):
            if value not in kept:
                kept.append(value)
    return {dim: tuple(values) for dim, values in where.items()}
