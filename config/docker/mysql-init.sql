-- Runs once when the MySQL container initialises its data directory.
-- mysql_native_password: works without TLS or an RSA key exchange.
CREATE USER 'maxwell'@'%' IDENTIFIED WITH mysql_native_password BY 'maxwell';
GRANT SELECT, REPLICATION CLIENT, REPLICATION SLAVE ON *.* TO 'maxwell'@'%';
CREATE DATABASE demo;
CREATE TABLE demo.orders (id INT AUTO_INCREMENT PRIMARY KEY, item VARCHAR(32), qty INT, at DATETIME(3));
