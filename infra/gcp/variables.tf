variable "project_id" {
  description = "Google Cloud project to deploy into."
  type        = string
}

variable "region" {
  description = "Region of the functions, the gateway and the Firestore database."
  type        = string
  default     = "europe-west1"
}

variable "name" {
  description = "Prefix of every resource name."
  type        = string
  default     = "agent-datastore"
}

variable "firestore_database" {
  description = "Firestore database (native mode) created for the store."
  type        = string
  default     = "agent-data-store"
}

variable "firestore_collection" {
  description = "Root collection of the store inside that database."
  type        = string
  default     = "agent_data_store"
}

variable "source_dir" {
  description = "Folder holding main.py, requirements.txt and the agent_datastore package (made by package.sh)."
  type        = string
  default     = "build/source"
}

variable "jwt_audiences" {
  description = "Audiences accepted in Google ID tokens at the gateway (comma-separated); Firebase tokens use the project id."
  type        = string
  default     = ""
}

variable "direct_callers" {
  description = "Service-account emails allowed to invoke the functions directly (trusted direct invocation)."
  type        = list(string)
  default     = []
}

variable "token_secret_id" {
  description = "Secret Manager secret holding DATASTORE_TOKEN_SECRET for capability tokens (empty: tokens off)."
  type        = string
  default     = ""
}

variable "sandbox_gateway" {
  description = "Also deploy the sandbox entry point: a second gateway without JWT security in front of ten functions that accept only capability tokens (needs token_secret_id)."
  type        = bool
  default     = true
}

variable "max_instances" {
  description = "Upper bound of instances per function."
  type        = number
  default     = 20
}

variable "memory" {
  description = "Memory of each function."
  type        = string
  default     = "512M"
}

variable "timeout_seconds" {
  description = "Timeout of each function; clear answers done=false before it."
  type        = number
  default     = 60
}

variable "deletion_protection" {
  description = "Protect the Firestore database from terraform destroy."
  type        = bool
  default     = true
}

variable "source_versions_days" {
  description = "Days a replaced source archive stays in the (versioned) source bucket before it is deleted."
  type        = number
  default     = 30
}
