# The key of list_keys cursors (API.md section 4: a forged cursor is invalid_cursor): random, made
# here, kept in Secret Manager and readable only by the list_keys functions, so every instance
# shares it and no one outside knows it (docs/gcp.md). The value is also in the Terraform state,
# like every generated secret: keep the state private.
resource "random_password" "cursor_secret" {
  length  = 64
  special = false
}

resource "google_secret_manager_secret" "cursor_secret" {
  secret_id = "${var.name}-cursor-secret"
  replication {
    auto {}
  }
  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "cursor_secret" {
  secret      = google_secret_manager_secret.cursor_secret.id
  secret_data = random_password.cursor_secret.result
}

resource "google_secret_manager_secret_iam_member" "cursor_secret" {
  for_each  = local.cursor_readers
  secret_id = google_secret_manager_secret.cursor_secret.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.function[each.key].email}"
}
