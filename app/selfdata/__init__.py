"""Self data: consents per purpose, access log, export, erasure, retention, privacy zones, attestations."""
