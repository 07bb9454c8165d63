"""`omprog`: rsyslog's omprog module with confirmMessages="on".

Runs a shipper through cli/runner.py, which returns the exit status. Its own defaults
(--eof-timeout 1.5s and --shutdown-timeout 2s) are in config/table.py. One module per host
command, so that a host's start imports that host's adapter only.
"""

from __future__ import annotations

from typing import Any

import click

from okta_risk_output.cli.command import EPILOG, Command
from okta_risk_output.cli.options import setting_options
from okta_risk_output.cli.runner import run_shipper
from okta_risk_output.errors import ExitStatus
from okta_risk_output.hosts.omprog import Marks, OmprogSession, Replies
from okta_risk_output.shipper import Shipper
from okta_risk_output.units import parse_duration

__all__ = ["omprog"]


def _duration(name: str, text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=name) from None


@click.command("omprog", cls=Command, epilog=EPILOG)
@click.option(
    "--transactions",
    is_flag=True,
    help='rsyslog\'s useTransactions="on": DEFER_COMMIT per message, OK at the commit mark.',
)
@click.option(
    "--begin-mark", default="BEGIN TRANSACTION", show_default=True, help="beginTransactionMark."
)
@click.option(
    "--commit-mark", default="COMMIT TRANSACTION", show_default=True, help="commitTransactionMark."
)
@click.option(
    "--keepalive",
    default="2s",
    show_default=True,
    metavar="DUR",
    help="While an answer waits, write a keep-alive dot this often (below confirmTimeout).",
)
@setting_options("omprog")
def omprog(
    transactions: bool, begin_mark: str, commit_mark: str, keepalive: str, **options: Any
) -> ExitStatus:
    """Run under rsyslog's omprog with confirmMessages="on" (forceSingleInstance="on").

    Answers OK once ready, then OK for each message once it is spooled or dead-lettered, or
    an error line when it is not (rsyslog keeps it and retries), with keep-alive dots while
    an answer waits. Delivers meanwhile. On EOF, delivers for --eof-timeout more, then
    stops as on SIGTERM: a request still in flight is abandoned after --shutdown-timeout.
    Here they default to 1.5s and 2s, together below rsyslog's closeTimeout (5 s). Logs go
    to stderr (omprog's output= file).
    """
    marks = Marks(begin_mark.encode(), commit_mark.encode()) if transactions else None
    # Our own objects on fds 0 and 1 rather than sys.stdin and sys.stdout: a thread still
    # blocked reading (or writing) at exit holds its stream's lock, and the interpreter
    # aborts when it then closes sys.stdin's. Unbuffered stdout: each answer is one write.
    stdin = open(0, "rb", closefd=False)  # noqa: SIM115 - as long-lived as the process
    stdout = open(1, "wb", buffering=0, closefd=False)  # noqa: SIM115 - likewise
    replies = Replies(stdout, _duration("--keepalive", keepalive))

    def work(shipper: Shipper) -> ExitStatus:
        session = OmprogSession(
            replies,
            max_line_bytes=shipper.settings.max_line_bytes,
            stop=shipper.stopping,
            marks=marks,
        )
        return shipper.run_feed(lambda intake: session.serve(stdin, intake))

    try:
        return run_shipper(options, work, command="omprog")
    finally:
        replies.close()
