-- The receipt that paid for a grant under terms priced per access, as the gateway's log names it
-- (its EIP-712 digest, 0x-hex); NULL for other grants and for downloads.
ALTER TABLE dataset_accesses ADD COLUMN receipt TEXT;
