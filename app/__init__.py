"""Coach CO2: trips, transport modes and a carbon footprint from a phone's GPS traces."""

__version__ = "0.1.0"
