"""Host adapters: the thin part that speaks each host's protocol around the one engine.

    omprog.py     rsyslog's omprog with confirmMessages: OK per message once it is durable
    fluentd.py    Fluentd's out_exec: a chunk file per run, remembered by its digest
    splunk.py     a Splunk custom alert action: JSON payload on stdin, gzipped CSV results
    accepting.py  what an adapter needs of intake (a Protocol, so tests can pass a fake)

Their click commands live in cli/omprog.py, cli/fluentd.py and cli/splunk.py: this
package reads and writes only the streams it is handed. syslog-ng's program(), Logstash's
pipe, and Vector or Fluent Bit piping JSON lines need no adapter: they use
`okta-risk-output run` (see docs/hosts.md).

May import: config and every room below it (delivery, okta, intake, spool, observe, the
kernel); not shipper or cli (lint-imports checks the layers).
"""
