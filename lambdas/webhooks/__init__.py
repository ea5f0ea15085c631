"""Webhooks per the Standard Webhooks spec: signing, SSRF-safe delivery, retries (the sender Lambda)."""
