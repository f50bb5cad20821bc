resource "google_service_account" "gateway" {
  account_id   = substr("${var.name}-gateway", 0, 30)
  display_name = "${var.name} API Gateway backend caller"
}

resource "google_api_gateway_api" "api" {
  provider   = google-beta
  api_id     = var.name
  depends_on = [google_project_service.apis]
}

resource "google_api_gateway_api_config" "api" {
  provider             = google-beta
  api                  = google_api_gateway_api.api.api_id
  api_config_id_prefix = "${var.name}-"

  openapi_documents {
    document {
      path = "openapi.yaml"
      contents = base64encode(templatefile("${path.module}/openapi.yaml.tftpl", merge(
        { for op in local.operations : "${op}_url" => google_cloudfunctions2_function.operation[op].service_config[0].uri },
        {
          title         = var.name
          project_id    = var.project_id
          jwt_audiences = var.jwt_audiences == "" ? var.project_id : var.jwt_audiences
          deadline      = var.timeout_seconds
        },
      )))
    }
  }

  gateway_config {
    backend_config {
      google_service_account = google_service_account.gateway.email
    }
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_api_gateway_gateway" "api" {
  provider   = google-beta
  region     = var.region
  gateway_id = var.name
  api_config = google_api_gateway_api_config.api.id
}
