"""PostgreSQL: statistics on the variable index's columns together (issue 16).

The planner takes a variable's name, kind and value for independent: `incident_type = 'death'` in one
case of four reads as the share of rows named incident_type times the share of texts that say death
anywhere, and so on: 176 cases expected where 25,149 match, at 100,000 cases. Planned for that few, the
filter's count was exact (46 ms) and its page gathered every matching id (84 ms). Multivariate MCV
lists (PostgreSQL 12+) keep the common combinations themselves, over every column a filter names
(a number's row has no text, a text's no number). At the default statistics target the list's 100
entries went to the commonest combinations (1.2% of rows each) and a value in 0.34% of rows was left
out; at 1,000 it is in, and the estimate is 28,115. ANALYZE then samples 300,000 rows: 3 s at 7.3
million. Nothing on SQLite."""

from __future__ import annotations

from alembic import op

revision = "5d8e1f3a7c94"
down_revision = "9b4e7c2d1a06"
branch_labels = None
depends_on = None

STATISTICS = "st_instance_variable_values"
COLUMNS = "name, kind, text_long, text_value, number_value"
TARGET = 1000


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"CREATE STATISTICS IF NOT EXISTS {STATISTICS} (mcv) ON {COLUMNS} FROM instance_variable")
    op.execute(f"ALTER STATISTICS {STATISTICS} SET STATISTICS {TARGET}")
    op.execute("ANALYZE instance_variable")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP STATISTICS IF EXISTS {STATISTICS}")
