"""Configuration: errors name file and field; targets resolve vendor > workflow > default."""

from __future__ import annotations

import pytest
from ingest_testkit import counts, decision, write_csv

from bpo_kpi.config import CONFIG_ENV, Config, ConfigError, load_config

BAD = [
    ("[targets.default]\nquality = 2\n",
     "field 'targets.default.quality': Input should be less than or equal to 1"),
    ("[targets.workflows.hate_speech]\nkappa = -1.5\n",
     "field 'targets.workflows.hate_speech.kappa': Input should be greater than or equal to -1"),
    ("[targets.workflows.hate_speech.vendors.acme]\nsla_minutes = { p0 = 0 }\n",
     "field 'targets.workflows.hate_speech.vendors.acme.sla_minutes': "
     "SLA minutes for priority 'p0' must be positive"),
    ('reporting_timezone = "CEST"\n',
     "field 'reporting_timezone': unknown time zone 'CEST' "
     "(use an IANA name like 'Europe/Berlin')"),
    ('input_timezone = "Europe/Atlantis"\n',
     "field 'input_timezone': unknown time zone 'Europe/Atlantis'"),
    ('actioning_labels = ["remove", "shadow_ban"]\n',
     "actioning_labels: shadow_ban not in labels"),
    ('labels = ["approve", "remove", "approve"]\nactioning_labels = ["remove"]\n',
     "labels: each label may appear only once"),
    ('[[severity_rules]]\nseverity = "major"\nerror_type = "rudeness"\n',
     "severity_rules[0].error_type 'rudeness' is not one of error_types (over_enforcement, "
     "under_enforcement, wrong_policy, wrong_action)"),
    ('[[severity_rules]]\nseverity = "blocker"\n',
     "field 'severity_rules.0.severity': Input should be 'critical', 'major' or 'minor'"),
    ("contested_agreement = 1.5\n", "field 'contested_agreement'"),
    ('reporting_tz = "UTC"\n', "field 'reporting_tz': Extra inputs are not permitted"),
    ("[targets.default]\nqualty = 0.9\n", "field 'targets.default.qualty': Extra inputs"),
    ("labels = [\n", "not valid TOML"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), BAD, ids=[b[1][:40] for b in BAD])
def test_bad_config_names_file_and_field(tmp_path, text, message):
    file = tmp_path / "bpo.toml"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(file)
    assert str(err.value).startswith(f"{file}: ")
    assert message in str(err.value)


def test_unreadable_config_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")
    latin = tmp_path / "latin.toml"
    latin.write_bytes('description = "Gr\u00fc\u00dfe"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_config(latin)


def test_config_from_environment_and_defaults(tmp_path, monkeypatch):
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    assert load_config() == Config()
    file = tmp_path / "bpo.toml"
    file.write_text(
        'input_timezone = "Asia/Tokyo"\n[targets.workflows.hate_speech]\nquality = 0.9\n'
    )
    monkeypatch.setenv(CONFIG_ENV, str(file))
    config = load_config()
    assert config.input_timezone == "Asia/Tokyo"
    assert config.targets.resolve("hate_speech").quality == 0.9
    assert config.labels == Config().labels  # what the file does not set keeps its default
    assert config.content_hash() != Config().content_hash()


def test_targets_resolve_field_by_field(tmp_path):
    file = tmp_path / "bpo.toml"
    file.write_text(
        """
[targets.workflows.hate_speech]
quality = 0.97
sla_minutes = { p0 = 30 }

[targets.workflows.hate_speech.vendors.acme]
quality = 0.99
qa_coverage = 0.10
sla_minutes = { p1 = 120 }

[targets.workflows.graphic_violence.vendors.globex]
kappa = 0.8
"""
    )
    targets = load_config(file).targets
    default_sla = {"p0": 60, "p1": 240, "p2": 1440, "p3": 4320}

    def resolved(workflow=None, vendor=None):
        r = targets.resolve(workflow, vendor)
        return (r.quality, r.kappa, r.sla_attainment, r.qa_coverage, r.sla_minutes)

    assert resolved() == (0.95, 0.70, 0.95, 0.05, default_sla)
    assert resolved("hate_speech", "acme") == (
        0.99, 0.70, 0.95, 0.10, {**default_sla, "p0": 30, "p1": 120}
    )  # fmt: skip
    assert resolved("hate_speech", "globex") == (0.97, 0.70, 0.95, 0.05, {**default_sla, "p0": 30})
    assert resolved("hate_speech") == resolved("hate_speech", "globex")
    # A vendor override applies only inside its workflow.
    assert resolved("graphic_violence", "acme") == resolved()
    assert resolved("graphic_violence", "globex") == (0.95, 0.8, 0.95, 0.05, default_sla)
    assert resolved(None, "acme") == resolved()
    assert resolved("unknown_queue", "acme") == resolved()


def test_sla_targets_drive_due_at_at_ingest(env, tmp_path):
    file = tmp_path / "bpo.toml"
    file.write_text(
        "[targets.workflows.hate_speech]\nsla_minutes = { p1 = 90 }\n"
        "[targets.workflows.hate_speech.vendors.globex]\nsla_minutes = { p1 = 15 }\n"
    )
    config = load_config(file)
    rows = [
        decision("d1"),  # hate_speech / acme / p1: 90 min
        decision("d2", vendor="globex"),  # 15 min
        decision("d3", workflow="graphic_violence", vendor="globex"),  # default 240 min
        decision("d4", priority="p9"),  # no SLA for this priority: no due time
        decision("d5", priority=""),
    ]
    env.one("decisions", write_csv(env.path("d.csv"), rows), config=config)
    minutes = env.rows(
        "decisions",
        "decision_id, (epoch(due_at) - epoch(enqueued_at)) / 60, due_at_source",
    )
    assert minutes == [
        ("d1", 90.0, "config"),
        ("d2", 15.0, "config"),
        ("d3", 240.0, "config"),
        ("d4", None, None),
        ("d5", None, None),
    ]


def test_configured_labels_drive_validation(env):
    config = Config(labels=["keep", "takedown"], actioning_labels=["takedown"])
    rows = [decision("d1", decision="takedown"), decision("d2", decision="remove")]
    result = env.one("decisions", write_csv(env.path("d.csv"), rows), config=config)
    assert counts(result) == (2, 1, 0, 0, 1)
    [(line, _, reason)] = env.rejects(result.run_id)
    assert (line, reason) == (
        3,
        "decision remove is not a known label (known: keep, takedown); add a synonym to the "
        "vendor mapping [labels] or the label to the configuration",
    )
