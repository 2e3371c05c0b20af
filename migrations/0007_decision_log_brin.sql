-- Decision records arrive in time order, so a BRIN index serves time-range
-- scans at a fraction of a B-tree's write cost on the hottest insert path.
DROP INDEX decision_log_at_idx;
CREATE INDEX decision_log_at_brin ON decision_log USING brin (at);
