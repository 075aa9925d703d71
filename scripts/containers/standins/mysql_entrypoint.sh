#!/bin/sh
# First start: create the data directory, the database and the user, as the
# official mysql image does; then run the server on all interfaces.
set -eu
install -d -o mysql -g mysql /run/mysqld /var/lib/mysql
if [ ! -d /var/lib/mysql/mysql ]; then
  mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
  password=${MYSQL_PASSWORD:-}
  if [ -n "${MYSQL_PASSWORD_FILE:-}" ]; then password=$(cat "$MYSQL_PASSWORD_FILE"); fi
  root=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
  mariadbd --user=mysql --skip-networking --socket=/run/mysqld/init.sock &
  pid=$!
  for _ in $(seq 60); do mariadb-admin --socket=/run/mysqld/init.sock ping >/dev/null 2>&1 && break; sleep 1; done
  mariadb --socket=/run/mysqld/init.sock <<SQL
CREATE DATABASE IF NOT EXISTS \`${MYSQL_DATABASE}\`;
CREATE USER '${MYSQL_USER}'@'%' IDENTIFIED BY '${password}';
GRANT ALL ON \`${MYSQL_DATABASE}\`.* TO '${MYSQL_USER}'@'%';
ALTER USER 'root'@'localhost' IDENTIFIED BY '${root}';
FLUSH PRIVILEGES;
SQL
  kill "$pid"; wait "$pid" || true
  echo "mysql stand-in: created database ${MYSQL_DATABASE} and user ${MYSQL_USER}"
fi
exec mariadbd --user=mysql --bind-address=0.0.0.0 --port=3306
