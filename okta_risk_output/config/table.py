"""Every setting, declared once: its flag, environment variable, default, parser and help.
Longer than 400 lines: on purpose, it is one table, an entry per setting (over 40 of them),
so that each setting is in one place.

This is where to look for "where is --linger defined, parsed, documented". From this table
come the click options of each command (cli/options.py), the values build_settings reads
(config/settings.py: a flag, else the variable, else the command's own default, else the
default, each through the parser), the environment table at the end of `--help`, the
option sections of `--help` (one per group) and the settings reference in
docs/configuration.md (config/reference.py; `python scripts/make_config_reference.py`
rewrites it, and a test fails while it is stale).

The module stays light (no click, no spool, no requests): the group's `--help` and every
command's options are built from it before anything slow is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from okta_risk_output.config import parsers

__all__ = [
    "DEFAULTS",
    "ENV",
    "GROUPS",
    "MAX_EVENTS_PER_REQUEST",
    "MAX_SUBJECTS_PER_EVENT",
    "SETTINGS",
    "Setting",
    "setting",
    "settings_of",
]


@dataclass(frozen=True)
class Setting:
    """One setting (or, in cli/emulator.py's table, one option of a command of its own)."""

    name: str
    """The key in build_settings' options and the click parameter: linger -> --linger."""
    group: str
    """The section of `--help`, and the table of docs/configuration.md, it is listed in."""
    help: str
    """One line for `--help`; the default is added to it."""
    metavar: str = ""
    """What the value looks like in `--help` (DUR, PATH); empty for an on/off flag."""
    default: str | None = None
    """As text, parsed like a value given: `--help` shows exactly what is used."""
    env: str | None = None
    parse: Callable[[Any], Any] = parsers.text_or_none
    """Text -> value, raising ValueError saying why not (see config/parsers.py). In a table
    of options click resolves itself (the emulator's), it may be a click type."""
    commands: tuple[str, ...] = ()
    """The commands that take the flag."""
    shown_default: str = ""
    """For `--help` and the docs when there is no fixed default: `never`, `while it waits`."""
    doc: str = ""
    """The longer explanation in docs/configuration.md; `help` when empty."""
    command_help: Mapping[str, str] = field(default_factory=dict)
    """A command's own wording, where the setting means a little more or less there."""
    command_defaults: Mapping[str, str] = field(default_factory=dict)
    """A command's own default (omprog's --eof-timeout), between the variable and `default`."""
    env_only: bool = False
    """A secret: no flag, because a flag's value shows in process listings."""
    multiple: bool = False
    """The flag may be repeated; `parse` gets the tuple of values."""
    aliases: tuple[str, ...] = ()
    """Short forms of the flag (-v)."""

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def is_switch(self) -> bool:
        """An on/off flag, taking no value."""
        return not self.metavar

    def help_for(self, command: str) -> str:
        return self.command_help.get(command, self.help)

    def default_for(self, command: str | None) -> str | None:
        return self.command_defaults.get(command or "", self.default)


INPUT = "Input"
SPOOL = "Spool and dead letters"
DELIVERY = "Delivery"
OKTA = "Okta org and credentials"
LOGGING = "Logging and metrics"
GROUPS = (INPUT, SPOOL, DELIVERY, OKTA, LOGGING)
"""The sections of `--help` and of the settings reference, in this order."""

SHIPPING = ("run", "enqueue", "drain", "omprog", "fluentd")
"""The commands that take the shipper's flags. `splunk` runs a shipper too, but its settings
come from the alert payload (hosts/splunk.py), so it takes none of these flags."""
READING = ("run", "enqueue", "omprog", "fluentd")
"""... of which those that read input,"""
SENDING = ("run", "drain", "omprog", "fluentd")
"""... and those that deliver."""
MAPPING = (*READING, "validate", "map")
"""The commands that turn lines into signals: `validate` and `map` as `run` does."""

MAX_EVENTS_PER_REQUEST = 20
MAX_SUBJECTS_PER_EVENT = 50
"""Okta's own limits; a larger setting would only earn 400s."""

_NON_GLOBAL = "private, loopback, link-local, multicast and CGNAT addresses"

SETTINGS: tuple[Setting, ...] = (
    # -- Input ------------------------------------------------------------------------------
    Setting(
        "profile",
        INPUT,
        "Map foreign records first: suricata, zeek, cef, ecs, splunk-es, auto, or a TOML file.",
        metavar="NAME|FILE",
        env="OKTA_RISK_PROFILE",
        commands=MAPPING,
        command_defaults={"map": "auto"},
        command_help={
            "map": "A built-in profile (auto, cef, ecs, splunk-es, suricata, zeek) or a .toml "
            "profile file.",
        },
        doc="A mapping profile for records from security tools: `suricata`, `zeek`, `cef`, "
        "`ecs`, `splunk-es`, `auto` (recognises each line) or a TOML file of your own "
        "([profiles.md](profiles.md)). Without one, lines are RiskEvents or flat signals.",
    ),
    Setting(
        "direction",
        INPUT,
        "Which address a profile reports: source or destination.",
        metavar="D",
        default="source",
        env="OKTA_RISK_DIRECTION",
        parse=parsers.one_of("source", "destination"),
        commands=MAPPING,
        command_help={"map": "Report each record's source address, or its destination."},
        doc="Which address of a record a profile reports: `source` or `destination`. Read only "
        "with a profile.",
    ),
    Setting(
        "strict",
        INPUT,
        "No normalisation (addresses are still written canonically): the schema as is.",
        parse=parsers.flag,
        commands=MAPPING,
        command_help={"map": "Reject messages Okta would refuse; do not fix them."},
        doc="Validate records exactly as given: no timestamp conversion, no riskLevel case "
        "folding (addresses are still written in their canonical text).",
    ),
    Setting(
        "allow_non_global_ips",
        INPUT,
        f"Send {_NON_GLOBAL} too.",
        env="OKTA_RISK_ALLOW_NON_GLOBAL_IPS",
        parse=parsers.flag,
        commands=MAPPING,
        command_help={
            "validate": f"Count {_NON_GLOBAL} as valid.",
            "map": "Map private, loopback, link-local, ... addresses instead of skipping them.",
        },
        doc=f"Send {_NON_GLOBAL} (and unspecified ones) too; without it they are skipped and "
        "counted by reason, as Okta never sees a sign-in from them. The documentation ranges "
        "are always kept. The variable is on for `1`, `true`, `yes` or `on`, off for `0`,"
        " `false`, `no` or `off`.",
    ),
    Setting(
        "default_expires_in",
        INPUT,
        "Set expiresAt this long after intake when missing.",
        metavar="DUR",
        env="OKTA_RISK_DEFAULT_EXPIRES_IN",
        parse=parsers.positive_duration,
        commands=(*READING, "validate"),
        command_help={"validate": "Set expiresAt this long after now when missing, as run does."},
        doc="Sets `expiresAt` to intake time plus this when a record has none. Without it Okta "
        "expires an event 24 h after consuming it.",
    ),
    Setting(
        "max_line_bytes",
        INPUT,
        "Longer lines are dead-lettered.",
        metavar="N",
        default="1048576",
        env="OKTA_RISK_MAX_LINE_BYTES",
        parse=parsers.minimum_int(64),
        commands=(*READING, "validate"),
        command_help={"validate": "Longer lines are invalid (too_long)."},
        doc="Longer lines are dead-lettered (their first 4 KiB kept); memory per line stays "
        "bounded. At least 64.",
    ),
    # -- Spool and dead letters -------------------------------------------------------------
    Setting(
        "spool",
        SPOOL,
        "The spool file.",
        metavar="PATH",
        env="OKTA_RISK_SPOOL",
        commands=(*SHIPPING, "status"),
        shown_default="$XDG_STATE_HOME/okta-risk-output/spool.db",
        doc="The SQLite spool (`~/.local/state/...` when `XDG_STATE_HOME` is not set). "
        "Processes pointing at the same file share it.",
    ),
    Setting(
        "spool_max_events",
        SPOOL,
        "Most events the spool holds.",
        metavar="N",
        default="1000000",
        env="OKTA_RISK_SPOOL_MAX_EVENTS",
        parse=parsers.positive_int,
        commands=SHIPPING,
        doc="The most signals (one per IP subject) it holds.",
    ),
    Setting(
        "spool_max_bytes",
        SPOOL,
        "Most bytes of events the spool holds (MiB, GiB...).",
        metavar="SIZE",
        default="512MiB",
        env="OKTA_RISK_SPOOL_MAX_BYTES",
        parse=parsers.size,
        commands=SHIPPING,
        doc="The most bytes of events it holds (`KiB`, `MiB`, `GiB`, `KB`, `MB`, `GB`).",
    ),
    Setting(
        "spool_sync",
        SPOOL,
        "normal: a commit survives a crash of this process; full: also a power cut (slower).",
        metavar="MODE",
        default="normal",
        env="OKTA_RISK_SPOOL_SYNC",
        parse=parsers.one_of("normal", "full"),
        commands=SHIPPING,
        doc="`normal`: a commit survives a crash of the process; `full`: an fsync per commit, "
        "survives a power cut.",
    ),
    Setting(
        "overflow",
        SPOOL,
        "When the spool is full: drop-lowest-risk, block or reject-new.",
        metavar="POLICY",
        default="drop-lowest-risk",
        env="OKTA_RISK_OVERFLOW",
        parse=parsers.overflow_policy,
        commands=READING,
        doc="When full: `drop-lowest-risk` (oldest LOW, then MEDIUM; never a HIGH while lower "
        "remain), `block` (stop reading until there is room), `reject-new`.",
    ),
    Setting(
        "coalesce_window",
        SPOOL,
        "Merge a repeated IP only into a signal this recent.",
        metavar="DUR",
        env="OKTA_RISK_COALESCE_WINDOW",
        parse=parsers.positive_duration,
        commands=READING,
        shown_default="while it waits",
        doc="Merge a repeated IP only into a signal accepted this recently; without it, into "
        "any signal for it still waiting to be sent.",
    ),
    Setting(
        "no_coalesce",
        SPOOL,
        "Keep each repeat of an IP as a signal of its own.",
        env="OKTA_RISK_NO_COALESCE",
        parse=parsers.flag,
        commands=READING,
        doc="Keep every repeat of an IP as a signal of its own. The variable is on for `1`, "
        "`true`, `yes` or `on`, off for `0`, `false`, `no` or `off`.",
    ),
    Setting(
        "dead_letter",
        SPOOL,
        "JSONL file for records that will not reach Okta.",
        metavar="PATH",
        default="okta-risk-dead-letter.jsonl",
        env="OKTA_RISK_DEAD_LETTER",
        commands=SHIPPING,
        doc="Where records that will not reach Okta go (appended; opened at start).",
    ),
    # -- Delivery ---------------------------------------------------------------------------
    Setting(
        "rate_limit",
        DELIVERY,
        "Most requests per period, never exceeded: 30/min, 5/s.",
        metavar="RATE",
        default="30/min",
        env="OKTA_RISK_RATE_LIMIT",
        parse=parsers.rate,
        commands=SENDING,
        doc="The most requests per period; never exceeded in any window, by all processes "
        "sharing a spool together. Okta documents 30/min for this endpoint (an older guide "
        "said 3/min per provider). Okta's `X-Rate-Limit-*` headers slow delivery further when "
        "its budget is tighter (another client of the org spends it).",
    ),
    Setting(
        "max_events_per_request",
        DELIVERY,
        f"Events per request, 1 to {MAX_EVENTS_PER_REQUEST}.",
        metavar="N",
        default=str(MAX_EVENTS_PER_REQUEST),
        env="OKTA_RISK_MAX_EVENTS_PER_REQUEST",
        parse=parsers.int_between(1, MAX_EVENTS_PER_REQUEST),
        commands=SENDING,
        doc="1 to 20 (Okta's limit).",
    ),
    Setting(
        "max_subjects_per_event",
        DELIVERY,
        f"IP subjects per event, 1 to {MAX_SUBJECTS_PER_EVENT}.",
        metavar="N",
        default=str(MAX_SUBJECTS_PER_EVENT),
        env="OKTA_RISK_MAX_SUBJECTS_PER_EVENT",
        parse=parsers.int_between(1, MAX_SUBJECTS_PER_EVENT),
        commands=SENDING,
        doc="1 to 50 (Okta's limit).",
    ),
    Setting(
        "pack_granularity",
        DELIVERY,
        "Signals whose timestamps and expiries agree to this share an event.",
        metavar="DUR",
        default="1s",
        env="OKTA_RISK_PACK_GRANULARITY",
        parse=parsers.positive_duration,
        commands=SENDING,
        doc="Signals whose timestamp and expiresAt agree after rounding down to this share an "
        "event.",
    ),
    Setting(
        "linger",
        DELIVERY,
        "Send a partial batch once its oldest event waited this long.",
        metavar="DUR",
        default="2s",
        env="OKTA_RISK_LINGER",
        parse=parsers.duration,
        commands=SENDING,
        doc="A partial batch is sent once its oldest event has waited this long.",
    ),
    Setting(
        "timeout",
        DELIVERY,
        "HTTP read timeout.",
        metavar="DUR",
        default="30s",
        env="OKTA_RISK_TIMEOUT",
        parse=parsers.positive_duration,
        commands=SENDING,
        doc="HTTP read timeout; connecting may take at most `min(10 s, timeout)`.",
    ),
    Setting(
        "max_backoff",
        DELIVERY,
        "Longest wait between retries of a failing request.",
        metavar="DUR",
        default="60s",
        env="OKTA_RISK_MAX_BACKOFF",
        parse=parsers.positive_duration,
        commands=SENDING,
        doc="The longest wait between retries after 5xx or network errors (full jitter under a "
        "doubling ceiling starting at 1 s).",
    ),
    Setting(
        "max_retry_age",
        DELIVERY,
        "Dead-letter events retried this long.",
        metavar="DUR",
        env="OKTA_RISK_MAX_RETRY_AGE",
        parse=parsers.positive_duration,
        commands=SENDING,
        shown_default="never",
        doc="Dead-letter a batch that has kept failing this long.",
    ),
    Setting(
        "eof_timeout",
        DELIVERY,
        "After input ends, stop delivering after this long.",
        metavar="DUR",
        env="OKTA_RISK_EOF_TIMEOUT",
        parse=parsers.duration,
        commands=("run", "omprog", "fluentd"),
        shown_default="none",
        command_defaults={"omprog": "1.5s", "fluentd": "30s"},
        command_help={
            "omprog": "After EOF, stop delivering after this long (a hard bound).",
            "fluentd": "Once the chunk is spooled, deliver for at most this long.",
        },
        doc="Once input has ended, stop delivering after this long, leaving the rest spooled "
        "for `drain`. Hosts that close the program's input and kill it after a fixed time need "
        "one below that time (see below).",
    ),
    Setting(
        "shutdown_timeout",
        DELIVERY,
        "After SIGTERM, abandon a request still running.",
        metavar="DUR",
        default="4s",
        env="OKTA_RISK_SHUTDOWN_TIMEOUT",
        parse=parsers.positive_duration,
        commands=SENDING,
        command_defaults={"omprog": "2s"},
        doc="After SIGTERM/SIGINT, abandon a request still running after this long (under "
        "rsyslog's 5 s).",
    ),
    # -- Okta org and credentials -----------------------------------------------------------
    Setting(
        "org_url",
        OKTA,
        "Okta org base URL, e.g. https://example.okta.com.",
        metavar="URL",
        env="OKTA_ORG_URL",
        commands=SENDING,
        doc="The org's base URL, `https://example.okta.com`; needed to deliver. https is "
        "required except for loopback addresses (the emulator). No path, query or credentials.",
    ),
    Setting(
        "api_token",
        OKTA,
        "The API token.",
        env="OKTA_API_TOKEN",
        env_only=True,
        doc="The API token (SSWS). There is no flag for it, so it never shows in a process "
        "listing.",
    ),
    Setting(
        "api_token_file",
        OKTA,
        "File holding the Okta API token (else OKTA_API_TOKEN).",
        metavar="PATH",
        env="OKTA_API_TOKEN_FILE",
        commands=SENDING,
        doc="A file holding the token (surrounding whitespace is ignored); wins over "
        "`OKTA_API_TOKEN`.",
    ),
    Setting(
        "auth",
        OKTA,
        "ssws or oauth.",
        metavar="METHOD",
        env="OKTA_AUTH",
        parse=parsers.one_of("ssws", "oauth"),
        commands=SENDING,
        shown_default="oauth when a client id is set, else ssws",
        doc="`ssws` (an API token) or `oauth` (a service app's private key). Setting both an "
        "API token and a client id without `--auth` is an error.",
    ),
    Setting(
        "client_id",
        OKTA,
        "OAuth service app's client id (the risk provider's).",
        metavar="ID",
        env="OKTA_CLIENT_ID",
        commands=SENDING,
        doc="The service app's client id.",
    ),
    Setting(
        "private_key",
        OKTA,
        "The app's private key.",
        env="OKTA_PRIVATE_KEY",
        env_only=True,
        doc="The key itself, PEM or JWK; `\\n` escapes are accepted so a PEM fits on one line. "
        "Exactly one key source.",
    ),
    Setting(
        "private_key_file",
        OKTA,
        "The app's private key, PEM or JWK (else OKTA_PRIVATE_KEY).",
        metavar="PATH",
        env="OKTA_PRIVATE_KEY_FILE",
        commands=SENDING,
        doc="The app's private key, PEM or JWK (a JWKS holding one key will do). A file "
        "readable by group or others gets a WARN.",
    ),
    Setting(
        "key_id",
        OKTA,
        "The key's kid, when Okta holds several.",
        metavar="KID",
        env="OKTA_KEY_ID",
        parse=parsers.text,
        commands=SENDING,
        shown_default="the JWK's kid",
        doc="Which of the app's keys this is.",
    ),
    Setting(
        "scopes",
        OKTA,
        "OAuth scopes, space-separated.",
        metavar="SCOPES",
        default="okta.riskEvents.manage",
        env="OKTA_SCOPES",
        parse=parsers.scopes,
        commands=SENDING,
        doc="Space- or comma-separated.",
    ),
    Setting(
        "dpop",
        OKTA,
        "DPoP: auto (on when Okta asks), on or off.",
        metavar="MODE",
        default="auto",
        env="OKTA_DPOP",
        parse=parsers.lowercase,
        commands=SENDING,
        doc="`auto` starts without DPoP and switches on when Okta's token endpoint asks for it "
        "(`invalid_dpop_proof`, as for new API Services apps); `on`; `off`.",
    ),
    Setting(
        "token_cache",
        OKTA,
        "Keep the access token between runs in this file (0600).",
        metavar="PATH",
        env="OKTA_TOKEN_CACHE",
        commands=SENDING,
        shown_default="memory only",
        doc="Keep the access token between runs, for hosts that start the program per batch. "
        "Written atomically with mode 0600; it holds the token and nothing else.",
    ),
    Setting(
        "ca_bundle",
        OKTA,
        "CA certificates to verify Okta's TLS certificate with.",
        metavar="PATH",
        env="OKTA_RISK_CA_BUNDLE",
        parse=parsers.existing_file,
        commands=SENDING,
        doc="The CA certificates to verify Okta's certificate with, for a TLS-inspecting "
        "proxy; without it, `REQUESTS_CA_BUNDLE` is honoured (see Transport below).",
    ),
    # -- Logging and metrics ----------------------------------------------------------------
    Setting(
        "log_level",
        LOGGING,
        "DEBUG, INFO, WARN or ERROR.",
        metavar="LEVEL",
        default="INFO",
        env="OKTA_RISK_LOG_LEVEL",
        parse=parsers.log_level,
        commands=SHIPPING,
        doc="`DEBUG`, `INFO`, `WARN` or `ERROR`.",
    ),
    Setting(
        "log_format",
        LOGGING,
        "text (the level word first) or json (an object a line).",
        metavar="FORMAT",
        default="text",
        env="OKTA_RISK_LOG_FORMAT",
        parse=parsers.one_of("text", "json"),
        commands=SHIPPING,
        doc="`text` (the level word first) or `json` (an object a line; "
        "[observability.md](observability.md)).",
    ),
    Setting(
        "stats_interval",
        LOGGING,
        "Log a progress line this often; 0: never.",
        metavar="DUR",
        default="60s",
        env="OKTA_RISK_STATS_INTERVAL",
        parse=parsers.duration,
        commands=SHIPPING,
    ),
    Setting(
        "metrics_file",
        LOGGING,
        "Write Prometheus metrics to this file (node_exporter's textfile collector).",
        metavar="PATH",
        env="OKTA_RISK_METRICS_FILE",
        parse=parsers.text,
        commands=SHIPPING,
    ),
    Setting(
        "metrics_port",
        LOGGING,
        "Serve Prometheus metrics on /metrics at this port.",
        metavar="N",
        env="OKTA_RISK_METRICS_PORT",
        parse=parsers.port,
        commands=SHIPPING,
    ),
    Setting(
        "metrics_host",
        LOGGING,
        "Address for --metrics-port.",
        metavar="HOST",
        default="127.0.0.1",
        env="OKTA_RISK_METRICS_HOST",
        commands=SHIPPING,
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}

ENV = {s.name: s.env for s in SETTINGS if s.env}
"""Setting -> environment variable, for the code that reads a variable itself."""

DEFAULTS = {s.name: s.default for s in SETTINGS if s.default is not None}
"""Setting -> its default as text."""


def setting(name: str) -> Setting:
    return _BY_NAME[name]


def settings_of(command: str) -> tuple[Setting, ...]:
    """The settings whose flags `command` takes, in the table's order."""
    return tuple(s for s in SETTINGS if command in s.commands)
