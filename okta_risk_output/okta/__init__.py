"""okta"""
