-- A database for a Mycelium grid. The services create and migrate their schema (`mycelium` by
-- default, MYCELIUM_DB_SCHEMA) on start; this only prepares the database and its owner.
-- psql -U postgres -f infra/postgres/init.sql
CREATE ROLE mycelium LOGIN PASSWORD 'change-me';
CREATE DATABASE mycelium OWNER mycelium;
