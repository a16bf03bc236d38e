"""What the tests share: launchers, builders, settings and clients (one of each)."""
