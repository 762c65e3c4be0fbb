-- Least-privilege PostgreSQL roles for the billing app (docs/operations.md,
-- "Least-privilege database role"). Run as a superuser; it is idempotent, so run it
-- again after restoring a dump or if a table ever ends up owned by someone else:
--
--   psql -v ON_ERROR_STOP=1 -v owner=billing_owner -v app=billing_app -v db=billing \
--        -h HOST -U postgres -d postgres -f docs/postgres-roles.sql
--
-- owner: owns the database, its schema and every table; runs `manage.py migrate`.
-- app:   what gunicorn, the Celery worker and beat connect as: reads and writes rows,
--        nothing else (no TRUNCATE, no DDL, cannot disable the invoice triggers).
-- Set passwords afterwards (\password billing_owner, \password billing_app).

\set ON_ERROR_STOP on

SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE', :'owner')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE', :'app')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app') \gexec
-- Roles made earlier by hand get the same guarantees.
SELECT format('ALTER ROLE %I NOSUPERUSER NOBYPASSRLS', name)
FROM unnest(ARRAY[:'owner', :'app']) AS name \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
SELECT format('ALTER DATABASE %I OWNER TO %I', :'db', :'owner') \gexec

\connect :"db"

-- PostgreSQL 15+ already gives schema public to the database owner; older ones do not.
SELECT format('ALTER SCHEMA public OWNER TO %I', :'owner') \gexec
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SELECT format('GRANT USAGE ON SCHEMA public TO %I', :'app') \gexec

-- A database first migrated as another role (e.g. postgres): hand its tables (their
-- identity sequences follow) and the migrations' trigger functions to the owner, so
-- later migrations can alter them. Extension objects (btree_gist) stay as they are.
SELECT format('ALTER TABLE public.%I OWNER TO %I', tablename, :'owner')
FROM pg_tables WHERE schemaname = 'public' AND tableowner <> :'owner' \gexec
SELECT format('ALTER FUNCTION %s OWNER TO %I', p.oid::regprocedure, :'owner')
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' AND p.proowner <> (SELECT oid FROM pg_roles WHERE rolname = :'owner')
  AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') \gexec

-- Rows only: SELECT/INSERT/UPDATE/DELETE on tables, USAGE (nextval) on sequences;
-- now for the tables that exist, and by default for every table a migration adds.
SELECT format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I',
              :'app') \gexec
SELECT format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO %I', :'app') \gexec
SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public '
              'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %I', :'owner', :'app') \gexec
SELECT format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA public '
              'GRANT USAGE ON SEQUENCES TO %I', :'owner', :'app') \gexec
-- Ingestion and the billing run stage rows in temporary tables; PUBLIC has TEMPORARY by
-- default, this keeps it if a hardening script revoked that.
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', :'db', :'app') \gexec
