locals {
  # One Cloud Function, one service account and one gateway route per operation (API.md section 4)
  # and per entry point.
  operations = toset(["get", "set", "delete", "list_keys", "list_namespaces", "clear", "get_many", "set_many", "increment", "stats"])

  # Entry points: each is one API Gateway in front of its own set of the ten functions.
  # - api: callers present a Google or Firebase ID token, verified by the gateway (JWKS);
  #   the functions read the verified claims (DATASTORE_AUTH=gateway).
  # - sandbox: no gateway security; the functions accept only a capability token
  #   (DATASTORE_AUTH=token: gateway claims and X-Apigateway-Api-Userinfo are never read)
  #   and no direct caller (an `identity` body member is always an unknown member).
  all_entry_points = {
    api = {
      auth           = "gateway"
      direct_callers = var.direct_callers
      jwt_security   = true
      name           = var.name
      account_prefix = "ads"
      gateway_sa     = "${var.name}-gateway"
    }
    sandbox = {
      auth           = "token"
      direct_callers = []
      jwt_security   = false
      name           = "${var.name}-sandbox"
      account_prefix = "ads-sbx"
      gateway_sa     = "${var.name}-sbx-gateway"
    }
  }
  # The sandbox entry point needs the token secret: without it no request could pass.
  sandbox      = var.sandbox_gateway && var.token_secret_id != ""
  entry_points = { for entry, spec in local.all_entry_points : entry => spec if entry == "api" || local.sandbox }

  # Function key of (entry point, operation): the api's keep the bare operation, so
  # existing state keeps its addresses; the others are "<entry>/<operation>".
  function_keys = {
    for entry in keys(local.entry_points) : entry => {
      for op in local.operations : op => entry == "api" ? op : "${entry}/${op}"
    }
  }
  # The functions that read the list_keys cursor secret (cursor.tf): list_keys of each entry point.
  cursor_readers = { for key, spec in local.functions : key => spec if spec.operation == "list_keys" }
  # Function and account ids allow no underscores.
  functions = merge([
    for entry, spec in local.entry_points : {
      for op in local.operations : local.function_keys[entry][op] => {
        entry          = entry
        operation      = op
        function_id    = "${spec.name}-${replace(op, "_", "-")}"
        account_id     = substr("${spec.account_prefix}-${replace(op, "_", "-")}", 0, 30)
        auth           = spec.auth
        direct_callers = spec.direct_callers
      }
    }
  ]...)
}

data "archive_file" "source" {
  type        = "zip"
  source_dir  = "${path.module}/${var.source_dir}"
  output_path = "${path.module}/build/source.zip"
}

# The functions' source archives: never public, versioned (a deploy replaces the archive, and
# the one replaced stays recoverable for source_versions_days days, then is deleted).
resource "google_storage_bucket" "source" {
  name                        = "${var.project_id}-${var.name}-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.source_versions_days
    }
    action {
      type = "Delete"
    }
  }
}

resource "google_storage_bucket_object" "source" {
  name   = "source-${data.archive_file.source.output_md5}.zip"
  bucket = google_storage_bucket.source.name
  source = data.archive_file.source.output_path
}

# Least privilege: each function runs as its own account holding only
# roles/datastore.user, and only on this store's database.
resource "google_service_account" "function" {
  for_each     = local.functions
  account_id   = each.value.account_id
  display_name = "${var.name} ${each.value.entry} ${each.value.operation} function"
}

resource "google_project_iam_member" "datastore_user" {
  for_each = local.functions
  project  = var.project_id
  role     = "roles/datastore.user"
  member   = "serviceAccount:${google_service_account.function[each.key].email}"
  condition {
    title      = "only-the-store-database"
    expression = "resource.name == \"projects/${var.project_id}/databases/${google_firestore_database.store.name}\""
  }
}

resource "google_secret_manager_secret_iam_member" "token_secret" {
  for_each  = var.token_secret_id == "" ? {} : local.functions
  secret_id = var.token_secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.function[each.key].email}"
}

resource "google_cloudfunctions2_function" "operation" {
  for_each = local.functions
  name     = each.value.function_id
  location = var.region

  build_config {
    runtime     = "python312"
    entry_point = each.value.operation
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
      DATASTORE_AUTH           = each.value.auth
      DATASTORE_DIRECT_CALLERS = join(",", each.value.direct_callers)
      DATASTORE_REQUEST_BUDGET = tostring(var.timeout_seconds - 10)
      LOG_LEVEL                = "INFO"
    }
    dynamic "secret_environment_variables" {
      for_each = each.value.operation == "list_keys" ? [google_secret_manager_secret.cursor_secret.secret_id] : []
      content {
        key        = "DATASTORE_CURSOR_SECRET"
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = google_secret_manager_secret_version.cursor_secret.version
      }
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

  depends_on = [
    google_project_iam_member.datastore_user,
    google_secret_manager_secret_iam_member.token_secret,
    google_secret_manager_secret_iam_member.cursor_secret,
  ]
}

# The functions are private: only their entry point's gateway and, for the api's,
# the listed direct callers may invoke them.
resource "google_cloud_run_service_iam_member" "gateway_invoker" {
  for_each = local.functions
  location = var.region
  service  = google_cloudfunctions2_function.operation[each.key].service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.gateway[each.value.entry].email}"
}

resource "google_cloud_run_service_iam_member" "direct_invoker" {
  for_each = { for pair in setproduct(tolist(local.operations), var.direct_callers) : "${pair[0]}/${pair[1]}" => pair }
  location = var.region
  service  = google_cloudfunctions2_function.operation[local.function_keys.api[each.value[0]]].service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${each.value[1]}"
}
