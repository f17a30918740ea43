"""SQL generation for the `merge` write disposition, one module per strategy.

`constructs` holds the SQL building blocks that dialect hooks use (kept import-light, since every
dialect module imports it); `chain` gathers what a strategy needs about one table chain; the
strategy modules turn a chain into SQLAlchemy statements.
"""
