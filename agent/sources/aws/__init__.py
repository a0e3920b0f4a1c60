"""AWS Secrets Manager through boto3: batched reads and per-secret error translation."""
