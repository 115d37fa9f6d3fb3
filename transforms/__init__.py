"""Pure steps of the newsmon pipeline and their thin Beam wrappers."""
