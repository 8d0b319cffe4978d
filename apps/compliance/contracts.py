"""The compliance context's messages (none yet: its verify step reports through the
kernel's step protocol)."""
