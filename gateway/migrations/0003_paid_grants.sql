-- The receipt that paid for a grant under terms priced per access (its EIP-712 digest, 0x-hex);
-- NULL for other grants and for downloads.
ALTER TABLE accesses ADD COLUMN receipt TEXT;
