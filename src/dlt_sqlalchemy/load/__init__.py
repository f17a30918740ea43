"""Loading one file into one table.

`job` is dlt's load job; `path` the `LoadPath` interface every bulk path implements, with the
generic `executemany` path; `readers` and `jsonl_arrow` turn files into columns or Arrow batches;
`inserts` batches INSERTs; `bulk` holds what the dialects' bulk paths share; `failures`
tells which column refused which value.
"""
