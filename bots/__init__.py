"""Channel adapters: each module is the only place that imports its channel's library."""
