"""Reader library placeholder."""
