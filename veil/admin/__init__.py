"""The admin side of a server: the ``veil.*`` views, the audit trail and the redaction of
source error messages."""
