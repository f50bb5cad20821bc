locals {
  # One Cloud Function, one service account and one gateway route per operation (API.md section 4).
  operations = toset(["get", "set", "delete", "list_keys", "list_namespaces", "clear", "get_many", "set_many", "increment", "stats"])
  # Function and account ids allow no underscores.
  function_ids = { for op in local.operations : op => "${var.name}-${replace(op, "_", "-")}" }
}

data "archive_file" "source" {
  type        = "zip"
  source_dir  = "${path.module}/${var.source_dir}"
  output_path = "${path.module}/build/source.zip"
}

resource "google_storage_bucket" "source" {
  name                        = "${var.project_id}-${var.name}-source"
  location                    = var.region
  uniform_bucket_level_access = true
  force_destroy               = true
}

resource "google_storage_bucket_object" "source" {
  name   = "source-${data.archive_file.source.output_md5}.zip"
  bucket = google_storage_bucket.source.name
  source = data.archive_file.source.output_path
}

# Least privilege: each function runs as its own account holding only
# roles/datastore.user, and only on this store's database.
resource "google_service_account" "function" {
  for_each     = local.operations
  account_id   = substr("ads-${replace(each.key, "_", "-")}", 0, 30)
  display_name = "${var.name} ${each.key} function"
}

resource "google_project_iam_member" "datastore_user" {
  for_each = local.operations
  project  = var.project_id
  role     = "roles/datastore.user"
  member   = "serviceAccount:${google_service_account.function[each.key].email}"
  condition {
    title      = "only-the-store-database"
    expression = "resource.name == \"projects/${var.project_id}/databases/${google_firestore_database.store.name}\""
  }
}

resource "google_secret_manager_secret_iam_member" "token_secret" {
  for_each  = var.token_secret_id == "" ? toset([]) : local.operations
  secret_id = var.token_secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.function[each.key].email}"
}

resource "google_cloudfunctions2_function" "operation" {
  for_each = local.operations
  name     = local.function_ids[each.key]
  location = var.region

  build_config {
    runtime     = "python312"
    entry_point = each.key
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    max_instance_count               = var.max_instances
    max_instance_request_concurrency = 8
    available_cpu                    = "1"
    available_memory                 = var.memory
    timeout_seconds                  = var.timeout_seconds
    service_account_email            = google_service_account.function[each.key].email
    ingress_settings                 = "ALLOW_ALL"
    environment_variables = {
      STORE_BACKEND            = "firestore"
      GOOGLE_CLOUD_PROJECT     = var.project_id
      FIRESTORE_DATABASE       = google_firestore_database.store.name
      FIRESTORE_COLLECTION     = var.firestore_collection
      DATASTORE_AUTH           = "gateway"
      DATASTORE_DIRECT_CALLERS = join(",", var.direct_callers)
      DATASTORE_REQUEST_BUDGET = tostring(var.timeout_seconds - 10)
      LOG_LEVEL                = "INFO"
    }
    dynamic "secret_environment_variables" {
      for_each = var.token_secret_id == "" ? [] : [var.token_secret_id]
      content {
        key        = "DATASTORE_TOKEN_SECRET"
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  depends_on = [google_project_iam_member.datastore_user, google_secret_manager_secret_iam_member.token_secret]
}

# The functions are private: only the gateway and the listed direct callers may invoke them.
resource "google_cloud_run_service_iam_member" "gateway_invoker" {
  for_each = local.operations
  location = var.region
  service  = google_cloudfunctions2_function.operation[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.gateway.email}"
}

resource "google_cloud_run_service_iam_member" "direct_invoker" {
  for_each = { for pair in setproduct(tolist(local.operations), var.direct_callers) : "${pair[0]}/${pair[1]}" => pair }
  location = var.region
  service  = google_cloudfunctions2_function.operation[each.value[0]].service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${each.value[1]}"
}
