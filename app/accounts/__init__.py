"""Accounts: pseudonymous registration, tokens per device, operators."""
