-- tapline_reader: read-only access for Grafana (grafana/) and BI tools. SELECT on every table and
-- view of the schema, now and later (default privileges of the migrating role, which creates every
-- object, partitions and continuous aggregates included), and nothing else.
--
-- A login role without a password: nobody can sign in as it until an operator gives it one
-- (ALTER ROLE tapline_reader PASSWORD '...') or lets a login of their own in
-- (GRANT tapline_reader TO grafana). Only a server that trusts its network without passwords,
-- like the TimescaleDB container of docker-compose.yml, lets it in as it is.
--
-- On RDS the migrations act as the app role, which may not create roles: the deploy creates this
-- one first (functions/migrate/migrateOnDeploy.ts), and here it already exists.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tapline_reader') THEN
    CREATE ROLE tapline_reader LOGIN;
  END IF;
END $$;

GRANT USAGE ON SCHEMA public TO tapline_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO tapline_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO tapline_reader;
