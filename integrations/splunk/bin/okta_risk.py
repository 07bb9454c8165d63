"""Splunk alert action okta_risk: hands the alert to okta-risk-output.

splunkd runs this file with its own Python as `python okta_risk.py --execute`, the alert's
JSON payload on stdin (payload_format = json). okta-risk-output needs Python 3.10 or later
and packages Splunk's Python does not have, so it is installed beside Splunk in its own
virtualenv, and this script, which uses the standard library only and runs on any Python 3,
starts it: `<program> splunk --execute`, with the same payload on stdin. The program's
path is the alert action's `program` setting, else $OKTA_RISK_PROGRAM, else
/opt/okta-risk-output/bin/okta-risk-output. docs/hosts.md (Splunk) has the setup.

Exit codes, as splunkd's alert scripts use them: 0 success, 1 not run with --execute,
2 delivery failed, 3 unexpected error. Every stderr line starts with a level word (INFO,
WARN, ERROR), which splunkd uses for the line's level in splunkd.log
(component=sendmodalert action=okta_risk).
"""

import json
import os
import subprocess
import sys

DEFAULT_PROGRAM = "/opt/okta-risk-output/bin/okta-risk-output"
LEVELS = ("DEBUG ", "INFO ", "WARN ", "ERROR ", "FATAL ")
UNEXPECTED = 3


def main(argv):
    if len(argv) != 2 or argv[1] != "--execute":
        sys.stderr.write("ERROR Unsupported execution mode (expected --execute flag)\n")
        return 1
    payload = sys.stdin.buffer.read()
    program = _program(payload)
    try:
        child = subprocess.Popen(
            [program, "splunk", "--execute"],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_clean_environment(os.environ),
        )
    except OSError as exc:
        reason = exc.strerror or exc
        sys.stderr.write(
            f"ERROR cannot start okta-risk-output at {program} ({reason}): install it and "
            "set the alert action's program setting to its path\n"
        )
        return UNEXPECTED
    try:
        child.stdin.write(payload)
        child.stdin.close()
    except OSError:
        pass  # it exited early; its stderr says why
    for raw in child.stderr:
        _relay(raw.decode("utf-8", "replace").rstrip("\r\n"))
    status = child.wait()
    # A child killed by a signal has a negative status: not one of splunkd's codes.
    return status if status in (0, 2, 3) else UNEXPECTED


def _program(payload):
    try:
        configuration = json.loads(payload.decode("utf-8")).get("configuration") or {}
    except (ValueError, AttributeError):
        configuration = {}  # the program reports the bad payload itself
    program = str(configuration.get("program") or "").strip()
    return program or os.environ.get("OKTA_RISK_PROGRAM") or DEFAULT_PROGRAM


def _clean_environment(environ):
    """splunkd's environment without what points into Splunk's own Python and OpenSSL.

    splunkd sets PYTHONPATH and PYTHONHOME for its Python, LD_LIBRARY_PATH to its own
    libraries, and OPENSSL_CONF to its own OpenSSL's configuration; the virtualenv's Python
    must load its own instead.
    """
    home = environ.get("SPLUNK_HOME", "")
    clean = {}
    for name, value in environ.items():
        if name.startswith("PYTHON"):
            continue
        if name in ("OPENSSL_CONF", "OPENSSL_FIPS", "SSL_CERT_FILE") and home and home in value:
            continue
        if name == "LD_LIBRARY_PATH" and home:
            value = os.pathsep.join(p for p in value.split(os.pathsep) if home not in p)
            if not value:
                continue
        clean[name] = value
    return clean


def _relay(line):
    """One line of the program's stderr, level word first as splunkd expects."""
    if not line.strip():
        return
    if not line.startswith(LEVELS):
        line = "ERROR " + line  # a crash before logging started: a traceback, say
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
