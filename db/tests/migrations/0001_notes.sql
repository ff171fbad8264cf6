-- A table for the crate's tests.
CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL);
