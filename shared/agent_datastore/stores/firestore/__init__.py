"""The Firestore backend (docs/gcp.md): one collection, order-preserving document ids, split values,
the namespace registry in key-hashed shards (docs/scale.md)."""
