"""Ingest: a phone's batches of location points and motion hints, stored durably and deduplicated."""
