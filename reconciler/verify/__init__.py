"""Pre-deploy verification: what a task definition references exists and can be used.

Pure core: `refs` finds the references in a service, `findings` turns what AWS
answered into per-service findings, `verifier` batches the look-ups through an
injected reader (reconciler.aws.references in the product) and caches per commit.
"""
from reconciler.verify.findings import Finding, Verification
from reconciler.verify.verifier import Lookups, ReferenceReader, Verifier, VerifyCache

__all__ = ["Finding", "Lookups", "ReferenceReader", "Verification", "Verifier", "VerifyCache"]
