"""The one place that talks SQL: table models and the queries the services run."""
