-- orkestra-models, migration 2 (SQLite): a charge says whether its token counts are estimated
-- (the upstream did not report them, or the answer was cut before it did). Existing rows were counts.
ALTER TABLE models_ledger_charges ADD COLUMN estimated INTEGER NOT NULL DEFAULT 0;
