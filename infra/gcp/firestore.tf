resource "google_project_service" "apis" {
  for_each           = toset(["firestore.googleapis.com", "cloudfunctions.googleapis.com", "run.googleapis.com", "cloudbuild.googleapis.com", "artifactregistry.googleapis.com", "apigateway.googleapis.com", "servicemanagement.googleapis.com", "servicecontrol.googleapis.com", "secretmanager.googleapis.com"])
  service            = each.value
  disable_on_destroy = false
}

resource "google_firestore_database" "store" {
  name                    = var.firestore_database
  location_id             = var.region
  type                    = "FIRESTORE_NATIVE"
  concurrency_mode        = "PESSIMISTIC"
  delete_protection_state = var.deletion_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  deletion_policy         = var.deletion_protection ? "ABANDON" : "DELETE"
  depends_on              = [google_project_service.apis]
}

# TTL policies: Firestore deletes expired records and their value parts on its
# own (within about a day); the store never relies on it, it filters by time.
# The fields are exempt from indexing, as recommended for TTL timestamps.
resource "google_firestore_field" "ttl" {
  for_each   = toset(["records", "parts"])
  database   = google_firestore_database.store.name
  collection = each.value
  field      = "expire_time"
  ttl_config {}
  index_config {}
}

# Values and metadata are opaque text or compressed bytes: never indexed.
resource "google_firestore_field" "unindexed" {
  for_each = {
    "records.value"    = { collection = "records", field = "value" }
    "records.value_z"  = { collection = "records", field = "value_z" }
    "records.metadata" = { collection = "records", field = "metadata" }
    "parts.data"       = { collection = "parts", field = "data" }
  }
  database   = google_firestore_database.store.name
  collection = each.value.collection
  field      = each.value.field
  index_config {}
  depends_on = [google_firestore_field.ttl]
}
