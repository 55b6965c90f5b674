"""Helpers the test modules share (simulated traces, a real server, GTFS feeds); no tests here."""
