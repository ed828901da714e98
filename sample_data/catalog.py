"""The sample world: vendors, sites, workflows, policies, markets and the rates behind them.

Everything here is static data; `sample_data.generate` turns it into seeded rows. The numbers are
chosen to look like a real Trust & Safety outsourcing programme: four BPO vendors with two or
three delivery sites each, six review queues (four of them Critical Harms), eight markets, and
baseline quality (~97.5 %) and SLA attainment (~98 %) that meet the default targets, so that the
injected gaps stand out.
"""

from __future__ import annotations

from dataclasses import dataclass

from bpo_kpi.config import Config

_DEFAULTS = Config()  # the generator speaks the default configuration's labels and SLAs
LABELS: tuple[str, ...] = tuple(_DEFAULTS.labels)
ACTIONING: tuple[str, ...] = tuple(_DEFAULTS.actioning_labels)
ACTIONING_MASK: tuple[bool, ...] = tuple(label in ACTIONING for label in LABELS)
SLA_MINUTES: dict[str, int] = {p: int(m) for p, m in _DEFAULTS.targets.default.sla_minutes.items()}
PRIORITIES: tuple[str, ...] = tuple(SLA_MINUTES)


@dataclass(frozen=True)
class Site:
    """A vendor delivery site: its markets (with weights) and how many reviewers it staffs."""

    name: str
    markets: dict[str, float]
    reviewers: int


@dataclass(frozen=True)
class Vendor:
    """A BPO vendor: id prefix for its task ids, the queues it serves and its sites."""

    name: str
    prefix: str  # three letters: task ids look like "MRD-0000012345"
    workflows: dict[str, float]  # workflow -> staffing weight
    sites: tuple[Site, ...]
    calibration_accuracy: float  # share of calibration ratings that match the golden answer


VENDORS: tuple[Vendor, ...] = (
    Vendor(
        "apex_bpo",
        "APX",
        {
            "hate_speech": 1.0,
            "harassment": 0.9,
            "spam": 1.0,
            "graphic_violence": 0.6,
            "child_safety": 0.5,
        },
        (
            Site("apex_manila", {"en_US": 0.6, "tl_PH": 0.4}, 44),
            Site("apex_cebu", {"en_US": 0.7, "tl_PH": 0.3}, 34),
            Site("apex_davao", {"en_US": 1.0}, 20),
        ),
        0.89,
    ),
    Vendor(
        "meridian",
        "MRD",
        {
            "hate_speech": 0.8,
            "graphic_violence": 1.0,
            "harassment": 0.7,
            "spam": 0.6,
            "violent_extremism": 0.5,
        },
        (
            Site("meridian_bogota", {"es_MX": 0.7, "en_US": 0.3}, 34),
            Site("meridian_mexico_city", {"es_MX": 1.0}, 28),
            Site("meridian_sao_paulo", {"pt_BR": 1.0}, 26),
        ),
        0.86,
    ),
    Vendor(
        "northwind",
        "NWD",
        {
            "hate_speech": 1.0,
            "graphic_violence": 0.8,
            "violent_extremism": 0.7,
            "child_safety": 0.7,
            "harassment": 0.6,
        },
        (
            Site("northwind_berlin", {"de_DE": 0.6, "en_US": 0.2, "fr_FR": 0.2}, 36),
            Site(
                "northwind_lisbon",
                {"pt_BR": 0.5, "fr_FR": 0.3, "en_US": 0.2},
                26,
            ),
        ),
        0.88,
    ),
    Vendor(
        "tessera",
        "TSR",
        {
            "hate_speech": 0.9,
            "harassment": 1.0,
            "spam": 0.8,
            "violent_extremism": 0.5,
            "graphic_violence": 0.5,
        },
        (
            Site("tessera_hyderabad", {"hi_IN": 0.6, "en_US": 0.4}, 40),
            Site("tessera_cairo", {"ar_SA": 0.7, "fr_FR": 0.3}, 26),
        ),
        0.87,
    ),
)

WORKFLOWS: tuple[str, ...] = (
    "hate_speech",
    "graphic_violence",
    "violent_extremism",
    "child_safety",
    "harassment",
    "spam",
)
CRITICAL_HARMS: tuple[str, ...] = (
    "hate_speech",
    "graphic_violence",
    "violent_extremism",
    "child_safety",
)

# Policies per workflow, with the share of actioned content each one covers.
POLICIES: dict[str, dict[str, float]] = {
    "hate_speech": {
        "HS1_slurs": 0.35,
        "HS2_dehumanization": 0.30,
        "HS3_hateful_conduct": 0.25,
        "HS4_hateful_imagery": 0.10,
    },
    "graphic_violence": {
        "GV1_gore": 0.40,
        "GV2_violent_death": 0.25,
        "GV3_animal_cruelty": 0.15,
        "GV4_medical_injury": 0.20,
    },
    "violent_extremism": {
        "VE1_glorification": 0.45,
        "VE2_recruitment": 0.25,
        "VE3_dangerous_orgs": 0.30,
    },
    "child_safety": {
        "CS1_exploitation": 0.25,
        "CS2_sexualization": 0.40,
        "CS3_endangerment": 0.35,
    },
    "harassment": {
        "HR1_targeted_insults": 0.40,
        "HR2_threats": 0.25,
        "HR3_doxxing": 0.15,
        "HR4_bullying": 0.20,
    },
    "spam": {
        "SP1_commercial_spam": 0.50,
        "SP2_scams": 0.30,
        "SP3_fake_engagement": 0.20,
    },
}

# The right label per workflow (what QA would say); labels not listed never are.
TRUTH_LABELS: dict[str, dict[str, float]] = {
    "hate_speech": {
        "approve": 0.58,
        "remove": 0.28,
        "limit": 0.09,
        "escalate": 0.02,
        "age_gate": 0.03,
    },
    "graphic_violence": {
        "approve": 0.45,
        "remove": 0.30,
        "limit": 0.07,
        "escalate": 0.02,
        "age_gate": 0.16,
    },
    "violent_extremism": {
        "approve": 0.50,
        "remove": 0.38,
        "limit": 0.04,
        "escalate": 0.07,
        "age_gate": 0.01,
    },
    "child_safety": {
        "approve": 0.55,
        "remove": 0.33,
        "limit": 0.02,
        "escalate": 0.09,
        "age_gate": 0.01,
    },
    "harassment": {
        "approve": 0.60,
        "remove": 0.25,
        "limit": 0.12,
        "escalate": 0.02,
        "age_gate": 0.01,
    },
    "spam": {"approve": 0.40, "remove": 0.52, "limit": 0.07, "escalate": 0.005, "age_gate": 0.005},
}

# Priority mix per workflow: Critical Harms queues run hotter.
PRIORITY_MIX: dict[str, dict[str, float]] = {
    "hate_speech": {"p0": 0.04, "p1": 0.18, "p2": 0.53, "p3": 0.25},
    "graphic_violence": {"p0": 0.08, "p1": 0.27, "p2": 0.45, "p3": 0.20},
    "violent_extremism": {"p0": 0.20, "p1": 0.40, "p2": 0.30, "p3": 0.10},
    "child_safety": {"p0": 0.35, "p1": 0.40, "p2": 0.20, "p3": 0.05},
    "harassment": {"p0": 0.02, "p1": 0.13, "p2": 0.55, "p3": 0.30},
    "spam": {"p0": 0.01, "p1": 0.04, "p2": 0.35, "p3": 0.60},
}

# Median handle time (claim -> decision) per workflow, minutes.
HANDLE_MINUTES: dict[str, float] = {
    "hate_speech": 1.6,
    "graphic_violence": 2.5,
    "violent_extremism": 3.2,
    "child_safety": 4.0,
    "harassment": 2.0,
    "spam": 0.7,
}
HANDLE_SIGMA = 0.7

# Queue wait (enqueue -> claim) is log-normal with median = WAIT_SLA_SHARE x the priority's SLA.
WAIT_SLA_SHARE = 0.18
WAIT_SIGMA = 0.8

# Markets: share of platform volume and UTC offset (hours) of the market's daytime.
MARKETS: dict[str, tuple[float, float]] = {
    "en_US": (0.30, -5),
    "es_MX": (0.14, -6),
    "pt_BR": (0.12, -3),
    "de_DE": (0.09, 1),
    "fr_FR": (0.08, 1),
    "ar_SA": (0.08, 3),
    "hi_IN": (0.11, 5.5),
    "tl_PH": (0.08, 8),
}

# Relative volume by local hour of day (00..23): quiet at night, peak in the evening.
# fmt: off
HOURLY_ACTIVITY: tuple[float, ...] = (
    0.55, 0.40, 0.30, 0.24, 0.22, 0.25, 0.35, 0.50, 0.68, 0.80, 0.88, 0.94,
    1.00, 1.00, 0.98, 0.97, 0.98, 1.02, 1.08, 1.14, 1.16, 1.10, 0.95, 0.75,
)
# fmt: on
# Relative volume by weekday (Monday..Sunday, UTC): less at weekends.
WEEKDAY_ACTIVITY: tuple[float, ...] = (1.00, 1.03, 1.01, 0.99, 0.95, 0.72, 0.66)

# Rates.
BASE_ERROR_RATE = 0.025  # share of decisions a reviewer gets wrong (before multipliers)
REVIEWER_ERROR_SIGMA = 0.3  # log-normal spread of reviewers' error multipliers
AUDIT_RATE = 0.05  # share of decided decisions QA audits
DUE_AT_STAMPED = 0.60  # share of rows whose queue stamps an explicit due_at
MISSING_CLAIM_RATE = 0.004  # decided rows whose tool did not log the claim
REREVIEW_RATE = 0.02  # rows that review an item already seen (another queue, appeal)
# When a reviewer errs on content that should be actioned: under-enforce / wrong policy / action.
ACTIONED_ERROR_MIX: tuple[float, float, float] = (0.45, 0.35, 0.20)
# When a reviewer errs on content that should stay up: which actioning label they pick.
OVER_ENFORCEMENT_LABELS: dict[str, float] = {"remove": 0.65, "limit": 0.25, "age_gate": 0.10}
DISPUTE_RATE = 0.15  # share of error audits the vendor disputes
DISPUTE_OUTCOMES: dict[str, float] = {"pending": 0.30, "upheld": 0.45, "overturned": 0.25}
DISPUTE_RESOLVE_MEDIAN_DAYS = 3.0  # time from a dispute to its resolution (log-normal)
EXPLICIT_ERROR_TYPE_RATE = 0.10  # error audits where QA fills error_type itself
EXPLICIT_SEVERITY_RATE = 0.08  # error audits where QA grades severity itself
MULTILINE_COMMENT_RATE = 0.25  # error comments with a second line
NON_ERROR_COMMENT_RATE = 0.15  # correct-call audits that still carry a note
AUDITORS_PER_WORKFLOW = 6
ORPHAN_AUDITS = 10

# Calibration.
CALIBRATION_ITEMS = (20, 30)  # items per session, inclusive
CALIBRATION_RATERS = (3, 6)  # raters per vendor per session, inclusive
CALIBRATION_WEEKDAY: dict[str, int] = {  # session day (0 = Monday) per workflow
    "hate_speech": 1,
    "graphic_violence": 1,
    "violent_extremism": 2,
    "child_safety": 2,
    "harassment": 3,
    "spam": 3,
}
INTERNAL_EXPERTS = ("internal-expert-01", "internal-expert-02", "internal-expert-03")

# Injected gaps.


@dataclass(frozen=True)
class UnderEnforcementGap:
    """From `from_week` (1-based week of the window, by decided_at) on, the vendor's reviewers
    approve `approve_rate` of the segment's content whose right label is `label`."""

    vendor: str
    workflow: str
    market: str
    from_week: int
    label: str
    approve_rate: float


@dataclass(frozen=True)
class WeekendTatGap:
    """Queue wait x `wait_multiplier` at `site` for items enqueued on `weekdays` (UTC, 0=Mon)."""

    vendor: str
    site: str
    weekdays: tuple[int, ...]
    wait_multiplier: float


@dataclass(frozen=True)
class OutlierGap:
    """`count` reviewers whose personal error multiplier is `error_multiplier`."""

    count: int
    error_multiplier: float


@dataclass(frozen=True)
class ContestedGap:
    """Calibration items whose golden answer cites `policy`: raters split between the golden
    answer and one popular alternative."""

    workflow: str
    policy: str
    golden_share: float
    alternative_share: float


GAP_UNDER_ENFORCEMENT = UnderEnforcementGap(
    vendor="meridian",
    workflow="graphic_violence",
    market="es_MX",
    from_week=5,
    label="remove",
    approve_rate=0.6,
)
GAP_WEEKEND_TAT = WeekendTatGap(
    vendor="northwind", site="northwind_berlin", weekdays=(5, 6), wait_multiplier=3.0
)
GAP_OUTLIERS = OutlierGap(count=4, error_multiplier=5.0)
GAP_CONTESTED = ContestedGap(
    workflow="hate_speech",
    policy="HS2_dehumanization",
    golden_share=0.30,
    alternative_share=0.55,
)

# Auditor notes. {qa}/{vp}: QA's / the vendor's policy short code (HS1); {ql}/{vl}: labels.
UNDER_NOTES: dict[str, tuple[str, ...]] = {
    "hate_speech": (
        "Missed slur in caption; {qa} applies",
        "Dehumanizing comparison in the text overlay; {qa} applies",
        "Coded hateful reference (dog whistle) missed; {qa} applies",
    ),
    "graphic_violence": (
        "Visible gore in frame; {qa} applies",
        "Violent death shown without news context; {qa} applies",
        "Graphic injury at 0:14 was approved; {qa} applies",
    ),
    "violent_extremism": (
        "Praise of a designated organisation in caption; {qa} applies",
        "Recruitment link in comments; {qa} applies",
    ),
    "child_safety": (
        "Minor in a sexualized context; {qa} applies, route to specialist queue",
        "Child endangerment clearly visible; {qa} applies",
    ),
    "harassment": (
        "Targeted insult at a private individual; {qa} applies",
        "Veiled threat in the reply; {qa} applies",
        "Home address shared in the post; {qa} applies",
    ),
    "spam": (
        "Scam link in bio; {qa} applies",
        "Repetitive commercial posting; {qa} applies",
    ),
}
OVER_NOTES: tuple[str, ...] = (
    "No violation: news/documentary context, should be approved",
    "Counter-speech condemning the harm; {vp} does not apply",
    "Fiction / gameplay footage; {vp} does not apply",
    "Satire, not a real threat; approve",
    "Over-enforced: nothing in the content meets the {vp} bar",
)
WRONG_POLICY_NOTES: tuple[str, ...] = (
    "Right action, wrong policy: {qa} not {vp}",
    "Policy should be {qa}; {vp} covers a different harm",
)
WRONG_ACTION_NOTES: tuple[str, ...] = (
    "Should be {ql}, not {vl}, under {qa}",
    "{vl} is too lenient/strict here; {qa} calls for {ql}",
)
SECOND_LINES: tuple[str, ...] = (
    "Flagged for coaching; see this week's calibration deck.",
    "Second opinion requested; reviewer notified.",
)
CORRECT_NOTES: tuple[str, ...] = (
    "Correct call.",
    "Agree with reviewer.",
    "Correct; borderline case, good judgement.",
    "Correct; clear case.",
)
