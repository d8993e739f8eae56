#!/bin/sh
# First start of Metabase: create the admin user and add dbapp's database, connected through the
# read-only `metabase` login the loader created. Does nothing once Metabase is set up.
set -eu
MB=http://metabase:3000
token=$(curl -fsS "$MB/api/session/properties" | sed -n 's/.*"setup-token":"\([^"]*\)".*/\1/p')
if [ -z "$token" ]; then
    echo "Metabase is already set up"
    exit 0
fi
curl -fsS -X POST "$MB/api/setup" -H 'Content-Type: application/json' --data @- <<JSON
{
  "token": "$token",
  "user": {"email": "$MB_ADMIN_EMAIL", "password": "$MB_ADMIN_PASSWORD",
           "first_name": "dbapp", "last_name": "admin", "site_name": "dbapp"},
  "database": {"engine": "postgres", "name": "dbapp news",
               "details": {"host": "db", "port": 5432, "dbname": "dbapp",
                           "user": "metabase", "password": "$BI_PASSWORD", "ssl": false}},
  "prefs": {"site_name": "dbapp", "allow_tracking": false}
}
JSON
echo "Metabase is ready at http://localhost:3000 with the dbapp database"
