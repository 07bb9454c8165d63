"""`python -m okta_risk_output` is the same program as `okta-risk-output`."""

from okta_risk_output.cli.entry import main

if __name__ == "__main__":
    main()
