-- Metabase keeps its own settings in a separate database on the same server.
CREATE DATABASE metabase;
