"""The brand's public pages: the home page, the maker directory, each maker's showcase."""

from flask import Blueprint, redirect, url_for

from registry.web import session

bp = session.pages(Blueprint("public", __name__), forms=False)


@bp.get("/")
def home():
    return redirect(url_for("verification.form"))
