"""The settings: what a user can set, and one checked, frozen Settings made from it.

- table.py: every setting declared once (flag, variable, default, parser, help, group);
  parsers.py: the parsers it names.
- values.py: where a value comes from (flag, variable, default) and its problems.
- settings.py: Settings and build_settings; credentials.py: the API token or OAuth key.
- reference.py: the settings reference of docs/configuration.md, written from the table.

May import delivery, okta, intake, spool, observe and the kernel modules (units, errors,
net, ...); never cli, shipper or hosts, which sit above it. Importing this package imports
none of its modules; table.py and parsers.py stay light (no click, no spool) for --help.
"""
