"""One module of okta_risk_output at a time, in-process; a fake clock for every wait."""
