"""The Splunk app as `make splunk-app` packs it: what splunkd needs is there and agrees with
itself (alert_actions.conf, the spec files, the alert form, the script's defaults)."""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
import tarfile
from pathlib import Path

from okta_risk_output import __version__
from okta_risk_output.hosts.splunk import APP, DEFAULTS
from tests.hosts.hostkit import ROOT

APP_DIR = ROOT / "integrations" / "splunk"


def _conf(text: str) -> configparser.ConfigParser:
    parser = _CaseKeeping(interpolation=None, comment_prefixes=("#",), strict=True)
    parser.read_string(text)
    return parser


class _CaseKeeping(configparser.ConfigParser):
    """.conf keys are case-sensitive (python.version, param.ip_field)."""

    def optionxform(self, optionstr: str) -> str:
        return optionstr


def _build(out: Path) -> tuple[Path, tarfile.TarFile]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_splunk_app.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    spl, tgz = (Path(p) for p in done.stdout.split())
    assert spl.name == f"{APP}-{__version__}.spl" and tgz.read_bytes() == spl.read_bytes()
    return spl, tarfile.open(spl)


def test_the_package_holds_an_installable_app(tmp_path: Path) -> None:
    _, package = _build(tmp_path)
    with package:
        names = set(package.getnames())
        for required in (
            "bin/okta_risk.py",
            "default/app.conf",
            "default/alert_actions.conf",
            "default/data/ui/alerts/okta_risk.html",
            "README/alert_actions.conf.spec",
            "README/savedsearches.conf.spec",
            "metadata/default.meta",
        ):
            assert f"{APP}/{required}" in names, required
        assert all(n == APP or n.startswith(f"{APP}/") for n in names)
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
        script = package.getmember(f"{APP}/bin/okta_risk.py")
        assert script.mode & 0o111
        app_conf = package.extractfile(f"{APP}/default/app.conf")
        assert app_conf is not None
        app = _conf(app_conf.read().decode())
    assert app["launcher"]["version"] == app["id"]["version"] == __version__
    assert app["package"]["id"] == APP


def test_the_build_is_reproducible(tmp_path: Path) -> None:
    first, opened = _build(tmp_path / "a")
    opened.close()
    second, opened = _build(tmp_path / "b")
    opened.close()
    assert first.read_bytes() == second.read_bytes()


def test_conf_spec_form_and_defaults_agree() -> None:
    stanza = _conf((APP_DIR / "default" / "alert_actions.conf").read_text())["okta_risk"]
    assert stanza["is_custom"] == "1"
    assert stanza["payload_format"] == "json"
    assert stanza["python.version"] == "python3"
    params = {k.removeprefix("param."): v for k, v in stanza.items() if k.startswith("param.")}
    spec = (APP_DIR / "README" / "alert_actions.conf.spec").read_text()
    saved = (APP_DIR / "README" / "savedsearches.conf.spec").read_text()
    form = (APP_DIR / "default" / "data" / "ui" / "alerts" / "okta_risk.html").read_text()
    for name in params:
        assert re.search(rf"^param\.{name} = ", spec, re.MULTILINE), f"{name} not in the spec"
        assert f"action.okta_risk.param.{name} = " in saved, f"{name} not in savedsearches spec"
    assert set(re.findall(r'name="action\.okta_risk\.param\.(\w+)"', form)) <= set(params)
    # The command's own defaults (for a payload without them) are the conf's.
    for name, value in DEFAULTS.items():
        assert params[name] == value, name
    # splunkd's maxtime stays above the delivery deadline plus a request's timeout.
    assert stanza["maxtime"] == "5m" and params["deadline"] == "2m"
