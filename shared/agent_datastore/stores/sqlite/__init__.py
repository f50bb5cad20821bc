"""The SQLite backend (the embedded default): one file, byte-ordered BLOB keys, one transaction per operation."""
