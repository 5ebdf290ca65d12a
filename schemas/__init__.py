"""Marshmallow schemas: every request, every response and the certificate payload.

Shape only: what the database knows (uniqueness, ownership, state) is checked by the
services in `registry/`.
"""
