// Events dedupe on (account, at, label, source): a retried batch adds nothing.
UNWIND $events AS e
MERGE (x:LabelEvent {key: e.key})
  ON CREATE SET x.account_id = e.account_id, x.label = e.label, x.source = e.source,
                x.note = e.note, x.at = e.at, x.seq = $base + e.idx
