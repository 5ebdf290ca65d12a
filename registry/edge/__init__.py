"""The HTTP edge: where requests become calls of the services and their outcomes become
responses. The request's database session, authentication, rate limits, cache and
security headers, the page's language and the app's signing keys live here; the services
below never import Flask.
"""
