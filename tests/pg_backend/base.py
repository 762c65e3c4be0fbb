"""PostgreSQL backend for the test suite only: transactional tests end with Django's
flush, one TRUNCATE of every table, which the invoice guards refuse once a test has
finalized an invoice (invoices/migrations/0005_database_guards.py). Replica mode skips
ordinary triggers for that one transaction; it needs a superuser, which the suite runs
as, and the production backend never does this."""

from django.db.backends.postgresql import base, operations


class DatabaseOperations(operations.DatabaseOperations):
    def execute_sql_flush(self, sql_list):
        super().execute_sql_flush(["SET LOCAL session_replication_role = replica", *sql_list])


class DatabaseWrapper(base.DatabaseWrapper):
    ops_class = DatabaseOperations
