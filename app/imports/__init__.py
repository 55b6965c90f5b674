"""Imports: a person's location history files (GPX, GeoJSON, Google Takeout and Timeline), checked
whole, then stored as if the phone had sent them."""
