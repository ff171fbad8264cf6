-- What a license's price is paid per (`License.Unit`): 0 sample, 1 access, 2 inference.
ALTER TABLE terms ADD COLUMN unit BIGINT NOT NULL DEFAULT 0;
