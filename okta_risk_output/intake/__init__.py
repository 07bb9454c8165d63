"""Intake: from a host's bytes to signals in the spool, or a reason in the dead-letter file.

    reader.py       bytes to numbered lines: BOM, CRLF, a size cap per line
    records.py      one line to one RiskEvent (decode, parse, wrap a flat signal, normalise)
                    or RecordRejected with every reason, RecordSkipped by design
    profiles/       foreign records (Suricata, Zeek, CEF, ECS, Splunk ES, TOML) to signals
    validation.py   the schema files, compiled once; errors in plain words
    loop.py         `Intake`: lines to outcomes in batches, one spool transaction per batch
    deadletter.py   the JSONL dead-letter file, fsynced per entry
    check.py        what `validate` reports of each line, with the same mapping as `run`

May import: spool (intake puts into it), observe and the kernel; not okta, delivery,
config, shipper, hosts or cli.
"""
