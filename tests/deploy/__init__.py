"""The deployable artifacts themselves: what `sam build` and infra/gcp/package.sh produce, run as in the cloud."""
