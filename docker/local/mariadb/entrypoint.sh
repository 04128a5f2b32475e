#!/bin/sh
# The command's MySQL options (--gtid-mode, --enforce-gtid-consistency) do not exist in
# MariaDB, whose GTIDs are always on: they are left out; the rest is passed to mariadbd.
# The data directory is made at first start (root's password, then the init scripts).
set -eu
args=""
for a in "$@"; do
  case "$a" in
    --gtid-mode=*|--enforce-gtid-consistency=*) ;;
    *) args="$args $a" ;;
  esac
done
chown -R mysql:mysql /run/mysqld
if [ ! -d /var/lib/mysql/mysql ]; then
  mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
  mariadbd --user=mysql --skip-networking --socket=/run/mysqld/init.sock &
  pid=$!
  for _ in $(seq 1 100); do mariadb --socket=/run/mysqld/init.sock -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.2; done
  mariadb --socket=/run/mysqld/init.sock -e "ALTER USER 'root'@'localhost' IDENTIFIED BY '${MYSQL_ROOT_PASSWORD:-root}'; CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '${MYSQL_ROOT_PASSWORD:-root}'; GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
  for f in /docker-entrypoint-initdb.d/*.sql; do
    # MySQL 8's `IDENTIFIED WITH mysql_native_password BY` is MariaDB's default `IDENTIFIED BY`.
    [ -f "$f" ] && sed 's/IDENTIFIED WITH mysql_native_password BY/IDENTIFIED BY/I' "$f" | mariadb --socket=/run/mysqld/init.sock -uroot -p"${MYSQL_ROOT_PASSWORD:-root}"
  done
  kill "$pid"; wait "$pid" || true
fi
# shellcheck disable=SC2086
exec mariadbd --user=mysql --bind-address=0.0.0.0 --port=3306 $args
