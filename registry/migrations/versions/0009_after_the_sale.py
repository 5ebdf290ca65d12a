"""after the sale

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

Shops and their accounts (a new role), sales, one-time ownership claim codes, owners
(known by the hash of their key) and their reports of theft or loss, buyers' reports,
and the day-by-day scan counts behind the copied-code caution.
"""

import sqlalchemy as sa
from alembic import op

import registry.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("certificate", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certificate_piece_id"), ["piece_id"], unique=False)
    op.create_table(
        "scan_key",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("key", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_scan_key")),
    )
    op.create_table(
        "shop",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name_ru", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("region", sa.String(length=8), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("maker_id", sa.Integer(), nullable=True),
        sa.Column("admitted_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('jewellery_centre', 'makers_shop', 'retailer')", name=op.f("ck_shop_kind")
        ),
        sa.CheckConstraint("region IN ('RU-KYA', 'RU-KK', 'RU-TY')", name=op.f("ck_shop_region")),
        sa.ForeignKeyConstraint(["maker_id"], ["maker.id"], name=op.f("fk_shop_maker_id_maker")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop")),
        sa.UniqueConstraint("slug", name=op.f("uq_shop_slug")),
    )
    with op.batch_alter_table("shop", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shop_maker_id"), ["maker_id"], unique=False)

    op.create_table(
        "buyer_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=True),
        sa.Column("typed_code", sa.String(length=64), nullable=True),
        sa.Column("where_bought", sa.String(length=300), nullable=True),
        sa.Column("seller", sa.String(length=200), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("photo", sa.LargeBinary(), nullable=True),
        sa.Column("photo_media_type", sa.String(length=32), nullable=True),
        sa.Column("contact", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("handled_by_id", sa.Integer(), nullable=True),
        sa.Column("handled_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('suspected_fake', 'copied_tag', 'wrong_details', 'other')",
            name=op.f("ck_buyer_report_kind"),
        ),
        sa.CheckConstraint("status IN ('open', 'handled')", name=op.f("ck_buyer_report_status")),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["certificate.id"],
            name=op.f("fk_buyer_report_certificate_id_certificate"),
        ),
        sa.ForeignKeyConstraint(
            ["handled_by_id"], ["account.id"], name=op.f("fk_buyer_report_handled_by_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buyer_report")),
        sa.UniqueConstraint("reference", name=op.f("uq_buyer_report_reference")),
    )
    with op.batch_alter_table("buyer_report", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_buyer_report_certificate_id"), ["certificate_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_buyer_report_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "sale",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("piece_id", sa.Integer(), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=True),
        sa.Column("maker_id", sa.Integer(), nullable=True),
        sa.Column("seller_id", sa.Integer(), nullable=False),
        sa.Column("sold_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(shop_id IS NULL) != (maker_id IS NULL)", name=op.f("ck_sale_one_seller")
        ),
        sa.ForeignKeyConstraint(
            ["certificate_id"], ["certificate.id"], name=op.f("fk_sale_certificate_id_certificate")
        ),
        sa.ForeignKeyConstraint(["maker_id"], ["maker.id"], name=op.f("fk_sale_maker_id_maker")),
        sa.ForeignKeyConstraint(["piece_id"], ["piece.id"], name=op.f("fk_sale_piece_id_piece")),
        sa.ForeignKeyConstraint(
            ["seller_id"], ["account.id"], name=op.f("fk_sale_seller_id_account")
        ),
        sa.ForeignKeyConstraint(["shop_id"], ["shop.id"], name=op.f("fk_sale_shop_id_shop")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sale")),
    )
    with op.batch_alter_table("sale", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sale_certificate_id"), ["certificate_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sale_piece_id"), ["piece_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sale_shop_id"), ["shop_id"], unique=False)
        batch_op.create_index(
            "uq_sale_standing_piece",
            ["piece_id"],
            unique=True,
            sqlite_where=sa.text("cancelled_at IS NULL"),
            postgresql_where=sa.text("cancelled_at IS NULL"),
        )

    op.create_table(
        "scan_day",
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("scans", sa.Integer(), nullable=False),
        sa.Column("networks", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["certificate.id"],
            name=op.f("fk_scan_day_certificate_id_certificate"),
        ),
        sa.PrimaryKeyConstraint("certificate_id", "day", name=op.f("pk_scan_day")),
    )
    op.create_table(
        "scan_network",
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("network", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["certificate.id"],
            name=op.f("fk_scan_network_certificate_id_certificate"),
        ),
        sa.PrimaryKeyConstraint("certificate_id", "day", "network", name=op.f("pk_scan_network")),
    )
    op.create_table(
        "ownership_claim",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("piece_id", sa.Integer(), nullable=False),
        sa.Column("sale_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("created_at", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "origin IN ('sale', 'handover', 'reset')", name=op.f("ck_ownership_claim_origin")
        ),
        sa.ForeignKeyConstraint(
            ["piece_id"], ["piece.id"], name=op.f("fk_ownership_claim_piece_id_piece")
        ),
        sa.ForeignKeyConstraint(
            ["sale_id"], ["sale.id"], name=op.f("fk_ownership_claim_sale_id_sale")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ownership_claim")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_ownership_claim_code_hash")),
    )
    with op.batch_alter_table("ownership_claim", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ownership_claim_piece_id"), ["piece_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ownership_claim_sale_id"), ["sale_id"], unique=False)

    op.create_table(
        "ownership",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("piece_id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("since", registry.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("report", sa.String(length=16), nullable=True),
        sa.Column("reported_at", registry.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "report IS NULL OR report IN ('stolen', 'lost')", name=op.f("ck_ownership_report")
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["ownership_claim.id"], name=op.f("fk_ownership_claim_id_ownership_claim")
        ),
        sa.ForeignKeyConstraint(
            ["piece_id"], ["piece.id"], name=op.f("fk_ownership_piece_id_piece")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ownership")),
        sa.UniqueConstraint("claim_id", name=op.f("uq_ownership_claim_id")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_ownership_key_hash")),
    )
    with op.batch_alter_table("ownership", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ownership_piece_id"), ["piece_id"], unique=False)
        batch_op.create_index(
            "uq_ownership_current_piece",
            ["piece_id"],
            unique=True,
            sqlite_where=sa.text("ended_at IS NULL"),
            postgresql_where=sa.text("ended_at IS NULL"),
        )

    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shop_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_account_shop_id_shop"), "shop", ["shop_id"], ["id"]
        )
        batch_op.drop_constraint(batch_op.f("ck_account_role"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_account_role"), "role IN ('maker', 'inspector', 'admin', 'shop')"
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_account_shop_accounts_have_a_shop"),
            "(role = 'shop') = (shop_id IS NOT NULL)",
        )


def downgrade() -> None:
    with op.batch_alter_table("certificate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certificate_piece_id"))
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_account_shop_accounts_have_a_shop"), type_="check")
        batch_op.drop_constraint(batch_op.f("ck_account_role"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_account_role"), "role IN ('maker', 'inspector', 'admin')"
        )
        batch_op.drop_constraint(batch_op.f("fk_account_shop_id_shop"), type_="foreignkey")
        batch_op.drop_column("shop_id")

    with op.batch_alter_table("ownership", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_ownership_current_piece",
            sqlite_where=sa.text("ended_at IS NULL"),
            postgresql_where=sa.text("ended_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_ownership_piece_id"))

    op.drop_table("ownership")
    with op.batch_alter_table("ownership_claim", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ownership_claim_sale_id"))
        batch_op.drop_index(batch_op.f("ix_ownership_claim_piece_id"))

    op.drop_table("ownership_claim")
    op.drop_table("scan_network")
    op.drop_table("scan_day")
    with op.batch_alter_table("sale", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_sale_standing_piece",
            sqlite_where=sa.text("cancelled_at IS NULL"),
            postgresql_where=sa.text("cancelled_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_sale_shop_id"))
        batch_op.drop_index(batch_op.f("ix_sale_piece_id"))
        batch_op.drop_index(batch_op.f("ix_sale_certificate_id"))

    op.drop_table("sale")
    with op.batch_alter_table("buyer_report", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_buyer_report_created_at"))
        batch_op.drop_index(batch_op.f("ix_buyer_report_certificate_id"))

    op.drop_table("buyer_report")
    with op.batch_alter_table("shop", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shop_maker_id"))

    op.drop_table("shop")
    op.drop_table("scan_key")
