"""The plugin as each host runs it (rsyslog, syslog-ng, Fluentd, Logstash, Splunk), real hosts
where they can be had; the helpers they share are in hostkit.py."""
