"""The command line: the only package that touches stdin, stdout, signals and exit codes.

- entry.py: where the process starts (stdlib only); early_signals.py: signals that come
  while it starts.
- main.py: the `okta-risk-output` group, importing each command only when it runs.
- command.py: the Command every command is (`--help` in sections, a returned exit status
  as the exit code); options.py: click options made from tables of settings.
- runner.py: a shipper run under signals, returning its exit status.
- One module per family of commands: ship.py (run, enqueue, drain), status.py,
  validate.py, map.py, schema.py, emulator.py (its options in emulator_options.py), and
  one per host (omprog.py, fluentd.py, splunk.py), so that a host's start loads its own
  adapter only.

May import everything in okta_risk_output; nothing imports it but __main__. Importing this
package imports none of its modules.
"""
