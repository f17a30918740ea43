"""SQL generation for the `merge` write disposition, one module per strategy.

`constructs` holds the SQL building blocks that dialect hooks use (kept import-light, since every
dialect imports it); `chain` gathers what a strategy needs about one table chain; the strategy
modules (`delete_insert`, `upsert`, `scd2`) turn a chain into SQLAlchemy statements, and `job`
picks the strategy and writes the follow-up job.
"""
