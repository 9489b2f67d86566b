"""The public wire format: msgspec Structs only, no logic."""
