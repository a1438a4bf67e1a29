"""Stand-ins for what development and tests cannot reach: the EQC registry, sample exports, synthetic companies."""
