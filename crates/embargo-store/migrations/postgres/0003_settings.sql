-- Settings kept in the database: the check value that proves the key file fits.
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
