"""People in the loop: Slack request signing, chat commands, permissions, approvals, git edits, audit.

Pure pieces only (no boto3, no HTTP server): the daemon and the CLI wire them to
Slack, git and the state table.
"""
