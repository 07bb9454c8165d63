"""Pack integrations/splunk/ as the Splunk app okta_risk_output: dist/okta_risk_output-<v>.spl.

The .spl is a gzipped tar whose one top folder is the app's id (a .tgz copy is written for
tools that want that name). app.conf's versions are stamped with okta-risk-output's own.
The archive is reproducible: sorted entries, fixed owner, modes and times.

    python scripts/build_splunk_app.py [--out DIR]
"""

from __future__ import annotations

import argparse
import gzip
import io
import re
import shutil
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "integrations" / "splunk"
APP_ID = "okta_risk_output"
_SKIP = re.compile(r"(^|/)(__pycache__|\.[^/]*)(/|$)|\.pyc$")


def package_version() -> str:
    text = (ROOT / "okta_risk_output" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE)
    if not found:
        raise SystemExit("no __version__ in okta_risk_output/__init__.py")
    return found.group(1)


def build(out: Path) -> list[Path]:
    version = package_version()
    buffer = io.BytesIO()
    # mtime=0 in the gzip header too, so the same tree packs to the same bytes.
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped,
        tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        tar.addfile(_entry(APP_ID, tarfile.DIRTYPE, 0o755))
        for path in sorted(SOURCE.rglob("*")):
            relative = path.relative_to(SOURCE).as_posix()
            if _SKIP.search(relative):
                continue
            name = f"{APP_ID}/{relative}"
            if path.is_dir():
                tar.addfile(_entry(name, tarfile.DIRTYPE, 0o755))
                continue
            data = path.read_bytes()
            if relative == "default/app.conf":
                data = re.sub(rb"(?m)^version = .*$", f"version = {version}".encode(), data)
            executable = relative.startswith("bin/") and relative.endswith(".py")
            entry = _entry(name, tarfile.REGTYPE, 0o755 if executable else 0o644)
            entry.size = len(data)
            tar.addfile(entry, io.BytesIO(data))
    out.mkdir(parents=True, exist_ok=True)
    spl = out / f"{APP_ID}-{version}.spl"
    spl.write_bytes(buffer.getvalue())
    tgz = spl.with_suffix(".tgz")
    shutil.copyfile(spl, tgz)
    return [spl, tgz]


def _entry(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
    entry = tarfile.TarInfo(name)
    entry.type = kind
    entry.mode = mode
    entry.mtime = 0
    entry.uid = entry.gid = 0
    entry.uname = entry.gname = ""
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="[default: dist/]")
    for path in build(parser.parse_args().out):
        print(path)


if __name__ == "__main__":
    main()
