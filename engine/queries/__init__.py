"""Read-only queries: plain values out, no locks taken."""
