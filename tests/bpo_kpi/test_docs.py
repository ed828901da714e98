"""The README's generated sections (KPI catalog, configuration reference) are up to date."""

from bpo_kpi.config import Config
from bpo_kpi_cli.docs import README, render


def test_readme_generated_sections_are_current() -> None:
    text = README.read_text(encoding="utf-8")
    assert render(text) == text, "run `python -m bpo_kpi_cli.docs` and commit README.md"


def test_every_config_field_is_documented_with_a_description() -> None:
    text = README.read_text(encoding="utf-8")
    for name, field in Config.model_fields.items():
        assert field.description, f"configuration field {name} has no description"
        assert f"`{name}`" in text
