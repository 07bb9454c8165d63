"""okta_risk_output: deliver risk signals from log pipelines to Okta's Risk Events API."""

__version__ = "0.1.0"

__all__ = ["__version__"]
