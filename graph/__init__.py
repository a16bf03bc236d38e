"""The graph layer: domain types, the store interface and its backends, ring detection."""
