"""The clients dlt talks to: the job client, the SQL client, and error translation (`errors`),
the one place where driver exceptions become dlt's.

Kept free of imports so that importing `client.sql_client` does not load the job client.
"""
