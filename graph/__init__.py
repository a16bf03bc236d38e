"""The graph layer: domain types, the store interface and its two backends, ring detection, lineage,
and the small-graph questions investigators ask (paths, exports). Imports only `ringfence.core`."""
