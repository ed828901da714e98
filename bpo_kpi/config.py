"""Configuration: one TOML file, validated by pydantic; every field has a default and a description.

Resolution of targets is field by field: a vendor override inside a workflow beats the workflow's
value, which beats `[targets.default]`.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

CONFIG_ENV = "BPO_KPI_CONFIG"

Severity = Literal["critical", "major", "minor"]
ERROR_TYPES = ("over_enforcement", "under_enforcement", "wrong_policy", "wrong_action")
DISPUTE_STATUSES = ("none", "pending", "upheld", "overturned")


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name like 'Europe/Berlin')"
        ) from exc
    return value


class TargetValues(_Strict):
    """Targets for one scope; a field left empty is inherited from the wider scope."""

    quality: float | None = Field(
        None, ge=0, le=1, description="Quality score target (1 - error rate)."
    )
    kappa: float | None = Field(
        None, ge=-1, le=1, description="Cohen's kappa target, vendor vs QA."
    )
    sla_attainment: float | None = Field(
        None, ge=0, le=1, description="Share of decisions decided by their due time."
    )
    qa_coverage: float | None = Field(
        None, ge=0, le=1, description="Share of decided decisions that QA audits."
    )
    sla_minutes: dict[str, float] = Field(
        default_factory=dict,
        description="SLA in minutes per priority (e.g. p0 = 60); used when a row has no due_at.",
    )

    @field_validator("sla_minutes")
    @classmethod
    def _positive_sla(cls, value: dict[str, float]) -> dict[str, float]:
        for priority, minutes in value.items():
            if minutes <= 0:
                raise ValueError(f"SLA minutes for priority {priority!r} must be positive")
        return value


class WorkflowTargets(TargetValues):
    vendors: dict[str, TargetValues] = Field(
        default_factory=dict, description="Per-vendor overrides within this workflow."
    )


class ResolvedTargets(_Strict):
    quality: float
    kappa: float
    sla_attainment: float
    qa_coverage: float
    sla_minutes: dict[str, float]


_DEFAULT_TARGETS = {
    "quality": 0.95,
    "kappa": 0.70,
    "sla_attainment": 0.95,
    "qa_coverage": 0.05,
    "sla_minutes": {"p0": 60, "p1": 240, "p2": 1440, "p3": 4320},
}


class Targets(_Strict):
    default: TargetValues = Field(
        default_factory=lambda: TargetValues(**_DEFAULT_TARGETS),
        description="Targets that apply to every workflow and vendor unless overridden; a "
        "file's [targets.default] overrides only the fields it sets.",
    )
    workflows: dict[str, WorkflowTargets] = Field(
        default_factory=dict, description="Per-workflow targets, with per-vendor overrides."
    )

    @model_validator(mode="before")
    @classmethod
    def _merge_default(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("default"), dict):
            given = data["default"]
            merged = {**_DEFAULT_TARGETS, **given}
            if "sla_minutes" in given:
                merged["sla_minutes"] = {**_DEFAULT_TARGETS["sla_minutes"], **given["sla_minutes"]}  # type: ignore[dict-item]
            data = {**data, "default": merged}
        return data

    @model_validator(mode="after")
    def _default_complete(self) -> Targets:
        missing = [
            name
            for name in ("quality", "kappa", "sla_attainment", "qa_coverage")
            if getattr(self.default, name) is None
        ]
        if missing:
            raise ValueError(f"targets.default must set {', '.join(missing)}")
        return self

    def resolve(self, workflow: str | None = None, vendor: str | None = None) -> ResolvedTargets:
        """Targets for one (workflow, vendor), field by field: vendor > workflow > default."""
        scopes: list[TargetValues] = [self.default]
        wf = self.workflows.get(workflow) if workflow else None
        if wf is not None:
            scopes.append(wf)
            if vendor and vendor in wf.vendors:
                scopes.append(wf.vendors[vendor])
        values: dict[str, object] = {}
        sla: dict[str, float] = {}
        for scope in scopes:
            sla.update(scope.sla_minutes)
            for name in ("quality", "kappa", "sla_attainment", "qa_coverage"):
                if getattr(scope, name) is not None:
                    values[name] = getattr(scope, name)
        return ResolvedTargets(sla_minutes=sla, **values)


class SeverityRule(_Strict):
    """First matching rule wins; an empty matcher matches anything."""

    severity: Severity = Field(description="Severity given to matching errors.")
    error_type: str | None = Field(None, description="Match this error type only.")
    workflow: str | None = Field(None, description="Match this workflow only.")
    policy: str | None = Field(None, description="Match this policy (QA's, else the vendor's).")

    @field_validator("error_type")
    @classmethod
    def _known_error_type(cls, value: str | None) -> str | None:
        if value is not None and value not in ERROR_TYPES:
            raise ValueError(f"unknown error_type {value!r}; use one of {', '.join(ERROR_TYPES)}")
        return value


class Role(_Strict):
    """What a viewer in this role may see; empty lists mean no restriction on that dimension."""

    vendors: list[str] = Field(default_factory=list, description="Vendors this role may see.")
    workflows: list[str] = Field(default_factory=list, description="Workflows this role may see.")
    markets: list[str] = Field(default_factory=list, description="Markets this role may see.")
    see_reviewers: bool = Field(True, description="May see reviewer ids and audit comments.")


class Config(_Strict):
    """bpo-kpi configuration (TOML). Every field has a default; a file overrides what it sets."""

    labels: list[str] = Field(
        default_factory=lambda: ["approve", "remove", "limit", "escalate", "age_gate"],
        description="Known enforcement labels; a row with another label is rejected at ingest.",
    )
    actioning_labels: list[str] = Field(
        default_factory=lambda: ["remove", "limit", "age_gate"],
        description="Labels that take action on content (used for over/under-enforcement).",
    )
    reporting_timezone: str = Field(
        "UTC", description="Time zone in which days, ISO weeks and months are cut."
    )
    input_timezone: str = Field(
        "UTC",
        description="Time zone of naive timestamps in files ingested without a vendor mapping.",
    )
    default_severity: Severity = Field(
        "major", description="Severity of an error that no rule matches and QA did not grade."
    )
    severity_rules: list[SeverityRule] = Field(
        default_factory=lambda: [
            SeverityRule(severity="critical", error_type="under_enforcement"),
            SeverityRule(severity="minor", error_type="wrong_policy"),
        ],
        description="Rules giving a severity to errors whose audit has none; first match wins.",
    )
    targets: Targets = Field(default_factory=Targets, description="KPI targets.")
    contested_agreement: float = Field(
        0.6,
        ge=0,
        le=1,
        description="Calibration: an item whose majority label share is below this is contested.",
    )
    freshness_hours: float = Field(
        36, gt=0, description="Data older than this (per vendor) is flagged as not fresh."
    )
    roles: dict[str, Role] = Field(
        default_factory=lambda: {"admin": Role()},
        description="Access roles: name -> scope. A viewer's role limits every query.",
    )
    pseudonym_key: str = Field(
        "",
        description="Secret mixed into reviewer pseudonyms for roles that may not see people; "
        "without it a pseudonym can be reversed by hashing guessed ids. Prefer the "
        "BPO_KPI_PSEUDONYM_KEY environment variable to keep it out of the file.",
    )

    @field_validator("reporting_timezone", "input_timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return _check_timezone(value)

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        if len(set(self.labels)) != len(self.labels):
            raise ValueError("labels: each label may appear only once")
        unknown = sorted(set(self.actioning_labels) - set(self.labels))
        if unknown:
            raise ValueError(f"actioning_labels: {', '.join(unknown)} not in labels")
        return self

    def content_hash(self) -> str:
        """Short hash of the effective configuration; stamped on exports and derived data."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:12]


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Load the configuration from `path`, else `$BPO_KPI_CONFIG`, else defaults.

    Raises ConfigError naming the file and the offending field.
    """
    if path is None:
        path = os.environ.get(CONFIG_ENV) or None
    if path is None:
        return Config()
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"configuration file {file} does not exist")
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not UTF-8 text") from exc
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{file}: {format_validation_error(exc)}") from exc


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem: dotted field path and message."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"field '{loc}': {msg}")
    return "; ".join(parts)


def config_reference() -> str:
    """Markdown reference of every configuration field (rendered into the README)."""
    lines = ["| field | default | description |", "|---|---|---|"]

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            if field.is_required():
                lines.append(f"| `{prefix}{name}` | (required) | {field.description or ''} |")
                continue
            default = field.get_default(call_default_factory=True)
            if isinstance(default, BaseModel):
                default = default.model_dump(mode="json", exclude_none=True)
            elif isinstance(default, list) and default and isinstance(default[0], BaseModel):
                default = [d.model_dump(mode="json", exclude_none=True) for d in default]
            elif isinstance(default, dict):
                default = {
                    k: v.model_dump(mode="json", exclude_none=True)
                    if isinstance(v, BaseModel)
                    else v
                    for k, v in default.items()
                }
            shown = json.dumps(default) if default is not None else ""
            lines.append(f"| `{prefix}{name}` | `{shown}` | {field.description or ''} |")

    walk(Config, "")
    walk(TargetValues, "targets.<scope>.")
    walk(SeverityRule, "severity_rules[].")
    walk(Role, "roles.<name>.")
    return "\n".join(lines)
