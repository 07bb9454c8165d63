"""The program as a process: killed, signalled, started with closed streams, and searched
for secrets afterwards."""
