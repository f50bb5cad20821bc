# One API Gateway per entry point (local.entry_points), each calling only its own
# functions with its own service account.
resource "google_service_account" "gateway" {
  for_each     = local.entry_points
  account_id   = substr(each.value.gateway_sa, 0, 30)
  display_name = "${each.value.name} API Gateway backend caller"
}

resource "google_api_gateway_api" "api" {
  provider   = google-beta
  for_each   = local.entry_points
  api_id     = each.value.name
  depends_on = [google_project_service.apis]
}

resource "google_api_gateway_api_config" "api" {
  provider             = google-beta
  for_each             = local.entry_points
  api                  = google_api_gateway_api.api[each.key].api_id
  api_config_id_prefix = "${each.value.name}-"

  openapi_documents {
    document {
      path = "openapi.yaml"
      contents = base64encode(templatefile("${path.module}/openapi.yaml.tftpl", merge(
        { for op, key in local.function_keys[each.key] : "${op}_url" => google_cloudfunctions2_function.operation[key].service_config[0].uri },
        {
          title         = each.value.name
          project_id    = var.project_id
          jwt_audiences = var.jwt_audiences == "" ? var.project_id : var.jwt_audiences
          deadline      = var.timeout_seconds
          jwt_security  = each.value.jwt_security
        },
      )))
    }
  }

  gateway_config {
    backend_config {
      google_service_account = google_service_account.gateway[each.key].email
    }
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_api_gateway_gateway" "api" {
  provider   = google-beta
  for_each   = local.entry_points
  region     = var.region
  gateway_id = each.value.name
  api_config = google_api_gateway_api_config.api[each.key].id
}
