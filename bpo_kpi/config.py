"""Configuration: one TOML file, validated by pydantic; every field has a default and a description.

Resolution of targets is field by field: a vendor override inside a workflow beats the workflow's
value, which beats `[targets.default]`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tomllib
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

CONFIG_ENV = "BPO_KPI_CONFIG"

Severity = Literal["critical", "major", "minor"]
# The error types docs/ARCHITECTURE.md §2 derives when QA gives none; each is also its own category.
ERROR_TYPES = ("over_enforcement", "under_enforcement", "wrong_policy", "wrong_action")
ErrorCategory = Literal[
    "over_enforcement", "under_enforcement", "wrong_policy", "wrong_action", "other"
]
ERROR_CATEGORIES: tuple[str, ...] = (*ERROR_TYPES, "other")
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
    critical_error_rate: float | None = Field(
        None, ge=0, le=1,
        description="Highest acceptable critical error rate (critical errors / audits); shown "
        "on the Overview tiles and alerted by the daily monitor (`critical_errors`).",
    )  # fmt: skip
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
    critical_error_rate: float
    sla_minutes: dict[str, float]


# The targets that are single numbers (every one but sla_minutes), resolved field by field.
TARGET_FIELDS = ("quality", "kappa", "sla_attainment", "qa_coverage", "critical_error_rate")

_DEFAULT_TARGETS = {
    "quality": 0.95,
    "kappa": 0.70,
    "sla_attainment": 0.95,
    "qa_coverage": 0.05,
    "critical_error_rate": 0.01,
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
        if isinstance(data, dict) and isinstance(data.get("default"), TargetValues):
            # built in code: a target it leaves empty takes its default (so a target added
            # later, such as critical_error_rate, keeps such code valid); sla_minutes as given
            given_values = data["default"]
            missing = {n: _DEFAULT_TARGETS[n] for n in TARGET_FIELDS
                       if getattr(given_values, n) is None}  # fmt: skip
            data = {**data, "default": given_values.model_copy(update=missing)}
        if isinstance(data, dict) and isinstance(data.get("default"), dict):
            given = data["default"]
            merged = {**_DEFAULT_TARGETS, **given}
            if "sla_minutes" in given:
                merged["sla_minutes"] = {**_DEFAULT_TARGETS["sla_minutes"], **given["sla_minutes"]}  # type: ignore[dict-item]
            data = {**data, "default": merged}
        return data

    @model_validator(mode="after")
    def _default_complete(self) -> Targets:
        missing = [name for name in TARGET_FIELDS if getattr(self.default, name) is None]
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
            for name in TARGET_FIELDS:
                if getattr(scope, name) is not None:
                    values[name] = getattr(scope, name)
        return ResolvedTargets(sla_minutes=sla, **values)


class ErrorType(_Strict):
    """One error type of the QA rubric: the category it counts in and whether it is an error."""

    category: ErrorCategory = Field(
        "other",
        description="over_enforcement, under_enforcement, wrong_policy, wrong_action or other; "
        "the enforcement rates count the first two.",
    )
    counts_against_quality: bool = Field(
        True,
        description="An audit with this type is an error (lowers the quality score); false for "
        "findings that are recorded but not scored (e.g. a coaching note).",
    )
    description: str = Field("", description="What the type means, for the people who use it.")


def _default_error_types() -> dict[str, ErrorType]:
    return {name: ErrorType(category=name) for name in ERROR_TYPES}


class IngestSettings(_Strict):
    """How ingest treats imperfect rows (a flaw in an optional field keeps the row, with a
    warning) and how long a writer waits for the database."""

    clock_tolerance_seconds: float = Field(
        60,
        ge=0,
        description="Timestamps out of order by at most this much (clock skew, whole-second "
        "clocks) are clamped to the earlier one with a warning; further out of order, an "
        "optional one is emptied (and a decided_at before enqueued_at rejects the row).",
    )
    earliest_timestamp: dt.date = Field(
        dt.date(2000, 1, 1),
        description="Timestamps before this day are implausible: a required one rejects the "
        "row, an optional one is emptied with a warning.",
    )
    max_future_days: float = Field(
        7,
        gt=0,
        description="Timestamps more than this many days after the ingest are implausible "
        "(treated as before earliest_timestamp).",
    )
    lock_wait_seconds: float = Field(
        600,
        ge=0,
        description="How long an ingest waits for another writer to finish before giving up.",
    )


class QuerySettings(_Strict):
    """Limits every read query runs under (the query gateway), so one slow or huge query does
    not take the machine or the other viewers with it."""

    timeout_seconds: float = Field(
        120, gt=0, description="A query running longer is stopped with a clear error."
    )
    max_rows: int = Field(
        2_000_000, gt=0, description="A query returning more rows is stopped with a clear error."
    )


class DashboardSettings(_Strict):
    """Where the dashboard is served, for links into it from outside (alert notifications)."""

    url: str = Field(
        "http://localhost:8501",
        description="The dashboard's base URL as its readers open it (`bpo-kpi serve` behind "
        "your proxy); `bpo-kpi alerts --notify` links each alert to its Overview there.",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{value!r} is not an http(s) URL (e.g. 'https://kpi.example.com')")
        if parts.query or parts.fragment:
            raise ValueError(f"{value!r}: give the base URL, without '?' or '#'")
        return value.strip().rstrip("/")


class CalibrationSettings(_Strict):
    """The calibration meeting pack (`kpi.meeting`): links from a contested item to where it
    can be looked at."""

    item_url_template: str = Field(
        "",
        description="Link of a calibration item in your review tool, e.g. "
        "'https://review.example.com/items/{item_id}': an http(s) URL with exactly one "
        "`{item_id}` (not in the host), where the item's id goes URL-encoded (`/`, `?`, `#` "
        "too, so an id cannot change the link's host or path). Empty: no links.",
    )

    @field_validator("item_url_template")
    @classmethod
    def _item_url(cls, value: str) -> str:
        value = value.strip()
        if not value:
            return value
        placeholder = "{item_id}"
        if any(c.isspace() or not c.isprintable() for c in value):
            raise ValueError(f"{value!r}: a URL has no spaces or control characters")
        if value.count(placeholder) != 1:
            raise ValueError(f"{value!r} must hold exactly one {placeholder}")
        rest = value.replace(placeholder, "")
        if "{" in rest or "}" in rest:
            raise ValueError(f"{value!r}: the only placeholder allowed is {placeholder}")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc.replace(placeholder, ""):
            raise ValueError(
                f"{value!r} is not an http(s) URL (e.g. 'https://review.example.com/items/"
                f"{placeholder}')"
            )
        if placeholder in parts.netloc:
            raise ValueError(f"{value!r}: {placeholder} may not be part of the host")
        return value


class EngineSettings(_Strict):
    """Which engine the dashboard reads (the CLI takes `--engine` per command)."""

    kind: Literal["duckdb", "spark"] = Field(
        "duckdb",
        description="duckdb: the database file (its published replica); spark: Parquet files "
        "written by `bpo-kpi publish` (needs the `spark` extra and Java 17+).",
    )
    parquet: str | None = Field(None, description="With spark: the folder of published tables.")
    spark_master: str = Field("local[*]", description="With spark: the Spark master URL.")

    @model_validator(mode="after")
    def _parquet_for_spark(self) -> EngineSettings:
        if self.kind == "spark" and not self.parquet:
            raise ValueError("engine.kind = 'spark' reads Parquet files: set engine.parquet")
        return self


GapDimension = Literal["market", "site", "policy"]


class MonitorSettings(_Strict):
    """How the daily monitor decides what is worth an alert (kpi/monitor.py)."""

    quality_window_days: int = Field(
        14, ge=3, le=90,
        description="Quality alerts test the audits of the decisions of this many days up to "
        "the monitored day (a rolling window).",
    )  # fmt: skip
    quality_long_window_days: int = Field(
        28, ge=0, le=180,
        description="A second, longer window for quality alerts, so a low-volume segment's "
        "persistent gap gathers enough audits (0: none). Each window is tested at half the "
        "false-alarm rate.",
    )  # fmt: skip
    false_alarm_rate: float = Field(
        0.01, gt=0, lt=0.5,
        description="Chance that a segment whose true error rate equals its target raises a "
        "quality alert on a given day (one-sided exact binomial test); also the significance "
        "level of SLA breaches.",
    )  # fmt: skip
    min_audits: int = Field(
        30, ge=1, description="No quality alert (nor daily p-chart point) on fewer audits."
    )
    min_decisions: int = Field(
        50, ge=1, description="No SLA alert on fewer decisions with a due time on the day."
    )
    min_kappa_audits: int = Field(
        20, ge=1,
        description="Cohen's kappa is not shown on fewer audits (the dashboard says \"too few "
        "audits\"): on a handful of audits it reads 1.00 with a zero-width interval.",
    )  # fmt: skip
    min_impact: float = Field(
        5, ge=0,
        description="Decisions affected beyond target (excess errors, late decisions, items "
        "past due, audits missing) below which a finding is not alerted; 10x this and a "
        "strong test (p below a tenth of false_alarm_rate) make an alert critical.",
    )  # fmt: skip
    dispute_pending_days: float = Field(
        7, gt=0,
        description="A dispute still pending this many days after it was raised (disputed_at, "
        "else the audit's time) is listed on the Disputes page and alerted "
        "(`dispute_pending`).",
    )  # fmt: skip
    critical_workflows: list[str] = Field(
        default_factory=lambda: ["child_safety", "violent_extremism", "graphic_violence"],
        description="Critical Harms workflows: their alerts come first within a severity.",
    )
    gap_dimensions: list[GapDimension] = Field(
        default_factory=lambda: list[GapDimension](["market", "site", "policy"]),
        description="Below vendor x workflow, the dimensions a quality alert looks into.",
    )


class SeverityRule(_Strict):
    """First matching rule wins; an empty matcher matches anything."""

    severity: Severity = Field(description="Severity given to matching errors.")
    error_type: str | None = Field(
        None, description="Match this error type only (one of `error_types`)."
    )
    workflow: str | None = Field(None, description="Match this workflow only.")
    policy: str | None = Field(None, description="Match this policy (QA's, else the vendor's).")


class QualityWeights(_Strict):
    """How `weighted_quality_score` scores an audit: 1 without an error (or with an error whose
    dispute overturned it), else 1 - the weight of its error's severity."""

    critical: float = Field(
        0.75, ge=0, le=1,
        description="Weight (points lost, of 1) of a critical error; unused while "
        "`critical_fails_audit` is true.",
    )  # fmt: skip
    major: float = Field(0.5, ge=0, le=1, description="Weight of a major error.")
    minor: float = Field(0.25, ge=0, le=1, description="Weight of a minor error.")
    critical_fails_audit: bool = Field(
        True,
        description="A critical error scores the audit 0 whatever its weight (an auto-fail, "
        "as Zendesk QA's); false: it loses `critical`.",
    )

    def penalties(self) -> dict[str, float]:
        """Points an error of each severity takes off its audit's score of 1."""
        critical = 1.0 if self.critical_fails_audit else self.critical
        return {"critical": critical, "major": self.major, "minor": self.minor}


class Role(_Strict):
    """What a viewer in this role may see; empty lists mean no restriction on that dimension."""

    vendors: list[str] = Field(default_factory=list, description="Vendors this role may see.")
    workflows: list[str] = Field(default_factory=list, description="Workflows this role may see.")
    markets: list[str] = Field(default_factory=list, description="Markets this role may see.")
    see_reviewers: bool = Field(True, description="May see reviewer ids and audit comments.")

    @property
    def restricted(self) -> bool:
        """Whether the role sees less than everything: a vendor, workflow or market scope, or
        no reviewer ids (such a role needs a pseudonym key: see `bpo_kpi.keys`)."""
        return bool(self.vendors or self.workflows or self.markets) or not self.see_reviewers


ADMIN_ROLE = "admin"  # built in, unrestricted: the CLI's role unless --role says otherwise


class AuthRule(_Strict):
    """One sign-in rule: a viewer whose identity matches gets `role`. Exactly one of `email`,
    `email_domain` and `group` is set; the first matching rule wins."""

    role: str = Field(description="The role a matching viewer gets (a name in `roles`).")
    email: str | None = Field(None, description="Match this e-mail address (any letter case).")
    email_domain: str | None = Field(
        None, description="Match e-mail addresses of this domain, exactly (not its subdomains)."
    )
    group: str | None = Field(
        None, description="Match viewers whose groups claim (`auth.groups_claim`) has this group."
    )

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and (value.count("@") != 1 or not value.strip()):
            raise ValueError(f"{value!r} is not an e-mail address")
        return None if value is None else value.strip().lower()

    @field_validator("email_domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        if value is None:
            return None
        domain = value.strip().lower().removeprefix("@")
        if not domain or "@" in domain or "." not in domain:
            raise ValueError(f"{value!r} is not a domain (e.g. 'northwind.example')")
        return domain

    @model_validator(mode="after")
    def _one_matcher(self) -> AuthRule:
        given = [n for n in ("email", "email_domain", "group") if getattr(self, n)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of email, email_domain, group "
                f"({'none' if not given else ', '.join(given)} given)"
            )
        return self


class AuthSettings(_Strict):
    """How signed-in viewers (Streamlit's OIDC sign-in, configured in `.streamlit/secrets.toml`)
    get a role. A viewer no rule matches sees a "no access" page and no data."""

    rules: list[AuthRule] = Field(
        default_factory=list,
        description="Identity -> role rules (`[[auth.rules]]`), first match wins; a viewer "
        "no rule matches has no access.",
    )
    groups_claim: str = Field(
        "groups", description="The identity token claim that lists the viewer's groups."
    )
    require_verified_email: bool = Field(
        True,
        description="E-mail rules match only when the provider says the address is verified "
        "(claim `email_verified` true). Set false only for a provider that never sends that "
        "claim and does not let users choose their address.",
    )


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
    quality_weights: QualityWeights = Field(
        default_factory=QualityWeights,
        description="Weights per error severity of `weighted_quality_score`; read when a "
        "number is computed (no recompute needed).",
    )
    error_types: dict[str, ErrorType] = Field(
        default_factory=_default_error_types,
        description="The QA rubric's error types: name -> category and whether it counts "
        "against quality. The four derived types (over_enforcement, under_enforcement, "
        "wrong_policy, wrong_action) are always present, in their own category; an audit "
        "naming a type not listed here is kept as an error of category `other`, with a "
        "warning. Vendor words map to these names in the mapping's [values.error_type].",
    )
    ingest: IngestSettings = Field(
        default_factory=IngestSettings, description="How ingest treats imperfect rows."
    )
    queries: QuerySettings = Field(
        default_factory=QuerySettings, description="Limits of every read query."
    )
    engine: EngineSettings = Field(
        default_factory=EngineSettings, description="The engine the dashboard reads."
    )
    monitor: MonitorSettings = Field(
        default_factory=MonitorSettings, description="What the daily monitor alerts on."
    )
    targets: Targets = Field(default_factory=Targets, description="KPI targets.")
    contested_agreement: float = Field(
        0.6,
        ge=0,
        le=1,
        description="Calibration: an item whose majority label share is below this is contested.",
    )
    calibration: CalibrationSettings = Field(
        default_factory=CalibrationSettings,
        description="Calibration meeting pack: the item link template.",
    )
    freshness_hours: float = Field(
        36, gt=0, description="Data older than this (per vendor) is flagged as not fresh."
    )
    dashboard: DashboardSettings = Field(
        default_factory=DashboardSettings,
        description="Where the dashboard is served (links in notifications).",
    )
    roles: dict[str, Role] = Field(
        default_factory=lambda: {ADMIN_ROLE: Role()},
        description="Access roles: name -> scope. A viewer's role limits every query. `admin` "
        "(unrestricted) is built in and always there: the CLI's role unless `--role` names "
        "another, and a signed-in viewer's only if an `auth` rule gives it.",
    )
    auth: AuthSettings = Field(
        default_factory=AuthSettings,
        description="Sign-in: which identities get which role (used when sign-in is configured).",
    )
    pseudonym_key: str = Field(
        "",
        description="Secret mixed into reviewer pseudonyms for restricted roles; without it a "
        "pseudonym can be reversed by hashing guessed ids. Prefer the BPO_KPI_PSEUDONYM_KEY "
        "environment variable or `pseudonym_key_file` to keep it out of this file.",
    )
    pseudonym_key_file: str = Field(
        "",
        description="File holding the pseudonym key when neither BPO_KPI_PSEUDONYM_KEY nor "
        "`pseudonym_key` gives it (default `~/.config/bpo-kpi/pseudonym.key`; also "
        "BPO_KPI_PSEUDONYM_KEY_FILE); created with a random key, readable by its owner only, "
        "the first time a restricted role needs it.",
    )

    @field_validator("reporting_timezone", "input_timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return _check_timezone(value)

    @field_validator("error_types", mode="before")
    @classmethod
    def _with_derived_types(cls, value: object) -> object:
        # A file lists its own types; the derived four are always there (in their category).
        if not isinstance(value, dict):
            return value
        merged: dict[str, object] = {name: {"category": name} for name in ERROR_TYPES}
        for name, spec in value.items():
            key = str(name).strip().lower()
            if key in ERROR_TYPES and isinstance(spec, dict):
                if spec.get("category", key) != key:
                    raise ValueError(
                        f"{key} is a derived error type: its category is {key}, not "
                        f"{spec.get('category')!r}"
                    )
                spec = {**spec, "category": key}
            if key in ("", "none"):
                raise ValueError("'none' (or an empty name) means no error; it is not a type")
            merged[key] = spec
        return merged

    @field_validator("roles", mode="after")
    @classmethod
    def _admin_built_in(cls, value: dict[str, Role]) -> dict[str, Role]:
        # Defining roles never removes the operator's access: `admin` is always there and
        # always unrestricted.
        admin = value.get(ADMIN_ROLE)
        if admin is not None and admin != Role():
            raise ValueError(
                f"'{ADMIN_ROLE}' is the built-in unrestricted role and cannot be narrowed; "
                "give the restricted role another name"
            )
        return {ADMIN_ROLE: Role(), **value}

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        for i, auth_rule in enumerate(self.auth.rules):
            if auth_rule.role not in self.roles:
                raise ValueError(
                    f"auth.rules[{i}].role {auth_rule.role!r} is not one of roles "
                    f"({', '.join(self.roles)})"
                )
        if len(set(self.labels)) != len(self.labels):
            raise ValueError("labels: each label may appear only once")
        unknown = sorted(set(self.actioning_labels) - set(self.labels))
        if unknown:
            raise ValueError(f"actioning_labels: {', '.join(unknown)} not in labels")
        for i, rule in enumerate(self.severity_rules):
            if rule.error_type is not None and rule.error_type not in self.error_types:
                raise ValueError(
                    f"severity_rules[{i}].error_type {rule.error_type!r} is not one of "
                    f"error_types ({', '.join(self.error_types)})"
                )
        return self

    def severity_penalties(self) -> dict[str, float]:
        """Points an error of each severity takes off its audit's score of 1
        (`weighted_quality_score`), and under `default` those of `default_severity` (for a
        severity the rules do not know; ingest gives none)."""
        penalties = self.quality_weights.penalties()
        return {**penalties, "default": penalties[self.default_severity]}

    def error_types_in(self, category: str) -> list[str]:
        """Configured error type names of one category."""
        return [n for n, t in self.error_types.items() if t.category == category]

    def uncounted_error_types(self) -> list[str]:
        """Configured error types that do not count against quality."""
        return [n for n, t in self.error_types.items() if not t.counts_against_quality]

    def derivation_hash(self) -> str:
        """Short hash of the settings that stored values are derived from at ingest: SLA
        minutes (the due time of a decision the queue stamped none), error types and severity
        rules (an audit's error, category and severity). When it differs from the one the data
        was derived with, those values are stale until `bpo-kpi recompute` (or the next ingest)
        derives them again; every other setting (targets, monitor, roles) is read when a
        number is computed and takes effect at once."""
        targets = self.targets
        sla = {
            "default": targets.default.sla_minutes,
            "workflows": {
                name: {"sla": wf.sla_minutes,
                       "vendors": {v: o.sla_minutes for v, o in wf.vendors.items()}}
                for name, wf in targets.workflows.items()
            },
        }  # fmt: skip
        payload = {
            "sla": sla,
            "error_types": {k: v.model_dump(mode="json") for k, v in self.error_types.items()},
            "severity_rules": [r.model_dump(mode="json") for r in self.severity_rules],
            "default_severity": self.default_severity,
            "actioning_labels": self.actioning_labels,
        }
        text = json.dumps(payload, sort_keys=True).encode()
        return hashlib.sha256(text).hexdigest()[:12]

    def content_hash(self) -> str:
        """Short hash of the effective configuration; stamped on exports and derived data.
        Settings that change no number (`dashboard`, `calibration`: where links point) are
        left out, so moving the dashboard or the review tool recomputes nothing."""
        payload = json.dumps(
            self.model_dump(mode="json", exclude={"dashboard", "calibration"}), sort_keys=True
        ).encode()
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
            shown = json.dumps(default, default=str) if default is not None else ""
            lines.append(f"| `{prefix}{name}` | `{shown}` | {field.description or ''} |")

    walk(Config, "")
    walk(TargetValues, "targets.<scope>.")
    walk(SeverityRule, "severity_rules[].")
    walk(QualityWeights, "quality_weights.")
    walk(ErrorType, "error_types.<name>.")
    walk(IngestSettings, "ingest.")
    walk(QuerySettings, "queries.")
    walk(EngineSettings, "engine.")
    walk(DashboardSettings, "dashboard.")
    walk(CalibrationSettings, "calibration.")
    walk(Role, "roles.<name>.")
    walk(AuthSettings, "auth.")
    walk(AuthRule, "auth.rules[].")
    return "\n".join(lines)
