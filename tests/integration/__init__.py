"""The plugin end to end, in-process or as the installed program, against the emulator (or a
hostile server) over real loopback HTTP."""
