"""`python -m okta_risk_output.emulator`: the emulator alone, as `okta-risk-output emulator`."""

from okta_risk_output.cli.emulator import emulator_command

if __name__ == "__main__":
    emulator_command()
