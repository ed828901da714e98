"""Vendor mappings: a TOML file per vendor that turns its export into canonical columns.

Example (see `sample_data/vendors/*.toml`)::

    vendor = "northwind"                  # constant `vendor` column for every row
    timezone = "Europe/Berlin"            # time zone of naive timestamps
    timestamp_format = "%d.%m.%Y %H:%M"   # strptime format, or "epoch_s" / "epoch_ms"; default ISO
    encoding = "utf-8"                    # or "latin-1", "utf-16"

    [csv]
    delimiter = ";"

    [labels]                              # vendor word -> canonical label (decision,
    "Löschen" = "remove"                  # qa_decision and calibration label columns)

    [values.priority]                     # synonyms for any other column's values
    "Hoch" = "p0"

    [decisions.columns]                   # canonical column = vendor column
    decision_id = "Vorgang"
    [decisions.constants]                 # canonical column = fixed value
    site = "berlin"

A mapping is configuration, not code: adding a vendor means adding such a file.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bpo_kpi.config import _check_timezone, format_validation_error

Kind = Literal["decisions", "audits", "calibration"]
KINDS: tuple[Kind, ...] = ("decisions", "audits", "calibration")


class MappingError(ValueError):
    """A vendor mapping file that cannot be used."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CsvOptions(_Strict):
    delimiter: str | None = Field(None, description="Field separator; detected when absent.")
    quote: str | None = Field(None, description='Quote character; `"` when absent.')
    header_row: int = Field(1, ge=1, description="Line number of the header row.")

    # One character each (the readers find records with them, and so does DuckDB), neither a
    # line break nor the other one: anything else would split rows wrongly without a word.
    @field_validator("delimiter", "quote")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if len(value) != 1 or value in "\r\n":
            raise ValueError(f"must be one character other than a line break, not {value!r}")
        return value

    @model_validator(mode="after")
    def _distinct(self) -> CsvOptions:
        if self.delimiter is not None and self.delimiter == (self.quote or '"'):
            raise ValueError(f"delimiter and quote are the same character {self.delimiter!r}")
        return self


class KindMapping(_Strict):
    columns: dict[str, str] = Field(
        default_factory=dict, description="canonical column -> vendor column name"
    )
    constants: dict[str, str] = Field(
        default_factory=dict, description="canonical column -> fixed value for every row"
    )


class VendorMapping(_Strict):
    vendor: str | None = Field(None, description="Vendor name stamped on every row.")
    description: str = ""
    timezone: str = Field("UTC", description="Time zone of naive timestamps.")
    timestamp_format: str | None = Field(
        None, description="strptime format of timestamps, or 'epoch_s' / 'epoch_ms'."
    )
    date_format: str | None = Field(None, description="strptime format of dates.")
    encoding: Literal["utf-8", "latin-1", "utf-16"] = "utf-8"
    csv: CsvOptions = Field(default_factory=CsvOptions)
    labels: dict[str, str] = Field(default_factory=dict, description="vendor label -> label")
    values: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="column -> {vendor value -> canonical value}"
    )
    true_values: list[str] = Field(
        default_factory=lambda: ["true", "t", "yes", "y", "1"],
        description="Spellings of true for boolean columns (case-insensitive).",
    )
    false_values: list[str] = Field(
        default_factory=lambda: ["false", "f", "no", "n", "0"],
        description="Spellings of false for boolean columns (case-insensitive).",
    )
    decisions: KindMapping = Field(default_factory=KindMapping)
    audits: KindMapping = Field(default_factory=KindMapping)
    calibration: KindMapping = Field(default_factory=KindMapping)
    source: str | None = Field(None, description="Path of the file this mapping came from.")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return _check_timezone(value)

    def for_kind(self, kind: Kind) -> KindMapping:
        mapping: KindMapping = getattr(self, kind)
        return mapping

    def constants(self, kind: Kind) -> dict[str, str]:
        """Constant columns for `kind`, with the vendor name when the mapping names one."""
        consts = dict(self.for_kind(kind).constants)
        if self.vendor and kind in ("decisions", "calibration"):
            consts.setdefault("vendor", self.vendor)
        return consts


CANONICAL = VendorMapping()


def load_mapping(path: str | os.PathLike[str]) -> VendorMapping:
    file = Path(path)
    if not file.is_file():
        raise MappingError(f"mapping file {file} does not exist")
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{file}: not valid TOML: {exc}") from exc
    raw["source"] = str(file)
    try:
        return VendorMapping.model_validate(raw)
    except ValidationError as exc:
        raise MappingError(f"{file}: {format_validation_error(exc)}") from exc
