"""The pages of the monitoring app: records, review and downloads."""
