DROP TABLE audit_log;
DROP TABLE sessions;
DROP TABLE users;
