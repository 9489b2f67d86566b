"""Client-facing dialects: the APIs clients speak, each translated to and from the
canonical chat form (see docs/architecture.md, "Dialects")."""
