"""Operator commands (run from a workstation with AWS credentials): `python -m ops --help`."""
