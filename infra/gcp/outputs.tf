output "gateway_url" {
  description = "Base URL of the API: POST https://<this>/v1/<operation>."
  value       = "https://${google_api_gateway_gateway.api.default_hostname}"
}

output "function_urls" {
  description = "Each operation's Cloud Function (private: gateway and direct callers only)."
  value       = { for op, fn in google_cloudfunctions2_function.operation : op => fn.service_config[0].uri }
}

output "function_service_accounts" {
  description = "The service account each function runs as."
  value       = { for op, sa in google_service_account.function : op => sa.email }
}

output "firestore_database" {
  description = "The Firestore database holding the store."
  value       = google_firestore_database.store.name
}
