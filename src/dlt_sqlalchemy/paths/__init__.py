"""Bulk load paths per dialect; `DialectCapabilities.load_paths()` lists them, fastest first."""
