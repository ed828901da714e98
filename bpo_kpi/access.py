"""Who a signed-in viewer is and which role they get.

The dashboard's sign-in is Streamlit's OIDC (`st.login`); the provider's identity token claims
arrive as `st.user`. `role_for` maps them to a role through the configuration's `[auth]` rules
(first match wins). Nothing else grants a role: no rule, no access.

- `email` and `email_domain` rules read the `email` claim, compared in lower case; the domain
  must equal the address's domain exactly (`northwind.example` does not match
  `evil-northwind.example` nor `northwind.example.evil.com`). With `require_verified_email`
  (default) they match only when the claim `email_verified` is true: a provider that lets a
  user type any address (and says so by not verifying it) cannot grant a role by domain.
- `group` rules read the claim named by `groups_claim` (a list of strings, or one string).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bpo_kpi.config import AuthSettings

ROLE_ENV = "BPO_KPI_ROLE"  # single-user mode: the dashboard's role (`bpo-kpi serve --role`)
# single-user mode on a non-loopback address, allowed by `bpo-kpi serve --allow-no-sign-in`
ALLOW_NO_SIGN_IN_ENV = "BPO_KPI_ALLOW_NO_SIGN_IN"


@dataclass(frozen=True)
class Identity:
    """The claims a role is decided on."""

    who: str  # e-mail, else the subject: what the access log and the sidebar show
    email: str | None
    email_verified: bool
    groups: tuple[str, ...]

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any], groups_claim: str = "groups") -> Identity:
        email = claims.get("email")
        email = email.strip().lower() if isinstance(email, str) and email.strip() else None
        verified = claims.get("email_verified")
        if isinstance(verified, str):  # some providers send "true"
            verified = verified.strip().lower() == "true"
        raw = claims.get(groups_claim)
        if isinstance(raw, str):
            groups: tuple[str, ...] = (raw,)
        elif isinstance(raw, list | tuple):
            groups = tuple(str(g) for g in raw if isinstance(g, str | int))
        else:
            groups = ()
        sub = claims.get("sub")
        who = email or (str(sub) if sub else "") or "(no e-mail or subject)"
        return cls(who=who, email=email, email_verified=verified is True, groups=groups)


def role_for(auth: AuthSettings, identity: Identity) -> str | None:
    """The role of the first `auth.rules` entry `identity` matches; None when none does."""
    email_ok = identity.email is not None and (
        identity.email_verified or not auth.require_verified_email
    )
    domain = identity.email.rpartition("@")[2] if identity.email else None
    for rule in auth.rules:
        if rule.email is not None and email_ok and identity.email == rule.email:
            return rule.role
        if rule.email_domain is not None and email_ok and domain == rule.email_domain:
            return rule.role
        if rule.group is not None and rule.group in identity.groups:
            return rule.role
    return None
