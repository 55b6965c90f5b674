"""The person's trips: listing, detail, corrections, deletion, purposes."""
