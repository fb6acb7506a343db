"""The audit log: hash-chained JSON Lines records (log), the record shapes (records), reading (query), checking (verify)."""
