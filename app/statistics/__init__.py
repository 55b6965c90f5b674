"""The territory's statistics for operators: privacy-protected aggregates of consenting people."""
