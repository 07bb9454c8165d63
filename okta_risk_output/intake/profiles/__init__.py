"""Mapping profiles: foreign records (Suricata, Zeek, CEF, ECS, Splunk ES, your own) to signals.

The whole public API:

    profile = load_profile("suricata")            # or "auto", or "path/to/my.toml"
    if profile.takes_text(line):                  # CEF: the decoded line itself
        mapped = profile.map(line, now=now)
    else:                                         # JSON: parsed (and checked) by the caller
        mapped = profile.map(record, now=now)
    if isinstance(mapped, Skip):
        count_skipped(mapped.reason)              # by design; never dead-lettered
    else:
        ...                                       # a flat signal, for records.py to validate

`load_profile` raises ProfileError (a ConfigError) listing every problem of a profile file;
`map` raises RecordRejected for a broken line (a CEF line that cannot be parsed) and nothing
else. `canonical_subject(s)` (addresses in canonical text, non-global ones skipped),
`is_skippable_ip` and `sanitise_message` are the same rules for other input paths.
docs/profiles.md describes the profile format and each built-in profile.

May import: the kernel only (and re2, tomllib); it is a facade, so this file names its own
modules, and imports each only when one of its names is first used (PEP 562): a line
spooled with no profile, which needs only sanitise.py, never loads the engine or re2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from okta_risk_output.lazy import lazy_names

if TYPE_CHECKING:
    from okta_risk_output.intake.profiles.engine import Mapped, MapSettings, Profile, Skip
    from okta_risk_output.intake.profiles.loader import (
        BUILTIN_PROFILES,
        ProfileError,
        load_profile,
        parse_profile,
    )
    from okta_risk_output.intake.profiles.sanitise import (
        MESSAGE_MAX_LENGTH,
        canonical_subject,
        canonical_subjects,
        is_skippable_ip,
        sanitise_message,
    )

__all__ = [
    "BUILTIN_PROFILES",
    "MESSAGE_MAX_LENGTH",
    "MapSettings",
    "Mapped",
    "Profile",
    "ProfileError",
    "Skip",
    "canonical_subject",
    "canonical_subjects",
    "is_skippable_ip",
    "load_profile",
    "parse_profile",
    "sanitise_message",
]

# Each public name -> the module it lives in.
_HOMES = {
    "BUILTIN_PROFILES": "loader",
    "MESSAGE_MAX_LENGTH": "sanitise",
    "MapSettings": "engine",
    "Mapped": "engine",
    "Profile": "engine",
    "ProfileError": "loader",
    "Skip": "engine",
    "canonical_subject": "sanitise",
    "canonical_subjects": "sanitise",
    "is_skippable_ip": "sanitise",
    "load_profile": "loader",
    "parse_profile": "loader",
    "sanitise_message": "sanitise",
}


__getattr__, __dir__ = lazy_names(__name__, _HOMES, __all__)
