"""The only package that talks to AWS (boto3). Everything else gets plain data."""
