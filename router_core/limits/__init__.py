"""Rate limits and quotas: one Limiter protocol, an in-process and a Redis backend."""
