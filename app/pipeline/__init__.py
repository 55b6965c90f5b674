"""The pipeline worker: pending points become trips, legs, modes and CO2e, off the request path."""
