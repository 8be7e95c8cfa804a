"""The integrity proof: hash chain, signed checkpoints, verification, evidence bundles."""
