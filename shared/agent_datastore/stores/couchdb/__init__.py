"""The CouchDB backend (docs/couchdb.md): hex document ids in byte order, `_rev` compare-and-set."""
