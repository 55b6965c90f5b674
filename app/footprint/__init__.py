"""The carbon footprint: emission factors in force, CO2e per leg, summaries, coaching and the vehicles a person declared."""
