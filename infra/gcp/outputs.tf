output "gateway_url" {
  description = "Base URL of the API: POST https://<this>/v1/<operation>."
  value       = "https://${google_api_gateway_gateway.api["api"].default_hostname}"
}

output "sandbox_gateway_url" {
  description = "Base URL of the sandbox entry point (capability tokens only), null when it is off."
  value       = local.sandbox ? "https://${google_api_gateway_gateway.api["sandbox"].default_hostname}" : null
}

output "function_urls" {
  description = "Each function by key: the operation for the api entry point, sandbox/<operation> for the sandbox one (private: their gateway and direct callers only)."
  value       = { for op, fn in google_cloudfunctions2_function.operation : op => fn.service_config[0].uri }
}

output "function_service_accounts" {
  description = "The service account each function runs as (same keys as function_urls)."
  value       = { for op, sa in google_service_account.function : op => sa.email }
}

output "firestore_database" {
  description = "The Firestore database holding the store."
  value       = google_firestore_database.store.name
}
