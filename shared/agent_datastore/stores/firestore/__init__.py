"""The Firestore backend (docs/gcp.md): one collection, order-preserving document ids, split values."""
