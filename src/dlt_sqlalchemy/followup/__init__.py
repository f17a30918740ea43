"""SQL follow-up jobs: statements that run after a table chain's files are loaded.

`statements_job` runs a follow-up `.sql` file, judging the `guards` of its statements first;
`job` writes such a file; `replace` and `merge/` generate the statements of each write disposition.
"""
