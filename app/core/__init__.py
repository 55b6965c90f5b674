"""What every domain shares: database sessions, request dependencies, problem details, middleware, rate limits, logs, migrations and uploads."""
