// The accounts of a batch that existed (locked by upsert_batch.cypher, which also merged their
// identifiers), one row per account, attributes merged in Python (`props`: the batch's own
// values as properties, graph/neo4j_typed.py). created_at keeps the earliest; links keep the
// earliest first_seen and the latest last_seen. Links and $bank_accounts, $cards, $devices as
// upsert_batch.cypher takes them: a link's first element is its identifier's position in the
// list of its type. Relationship types: graph/neo4j_typed.py.
UNWIND $rows AS row
MATCH (a:Account {id: row.id})
SET a.created_at = CASE WHEN a.created_at IS NULL OR row.created_at < a.created_at
                        THEN row.created_at ELSE a.created_at END,
    a.attributes = row.attributes,
    a += row.props,
    // $requested_at is null unless the caller asked for online scores (pending_scores.cypher).
    a.score_requested_at = CASE WHEN $requested_at IS NULL THEN a.score_requested_at
                                WHEN a.score_requested_at > $requested_at THEN a.score_requested_at
                                ELSE $requested_at END
REMOVE a._lock
WITH a, row
CALL (a, row) {
  UNWIND row.bank_accounts AS link
  MATCH (i:Identifier {key: $bank_accounts[link[0]][0]})
  MERGE (a)-[l:PAYS_OUT_TO]->(i)
    ON CREATE SET l.first_seen = link[1], l.last_seen = link[2]
    ON MATCH SET
      l.first_seen = CASE WHEN link[1] < l.first_seen THEN link[1] ELSE l.first_seen END,
      l.last_seen = CASE WHEN link[2] > l.last_seen THEN link[2] ELSE l.last_seen END
}
CALL (a, row) {
  UNWIND row.cards AS link
  MATCH (i:Identifier {key: $cards[link[0]][0]})
  MERGE (a)-[l:HAS_CARD]->(i)
    ON CREATE SET l.first_seen = link[1], l.last_seen = link[2]
    ON MATCH SET
      l.first_seen = CASE WHEN link[1] < l.first_seen THEN link[1] ELSE l.first_seen END,
      l.last_seen = CASE WHEN link[2] > l.last_seen THEN link[2] ELSE l.last_seen END
}
CALL (a, row) {
  UNWIND row.devices AS link
  MATCH (i:Identifier {key: $devices[link[0]][0]})
  MERGE (a)-[l:USES_DEVICE]->(i)
    ON CREATE SET l.first_seen = link[1], l.last_seen = link[2]
    ON MATCH SET
      l.first_seen = CASE WHEN link[1] < l.first_seen THEN link[1] ELSE l.first_seen END,
      l.last_seen = CASE WHEN link[2] > l.last_seen THEN link[2] ELSE l.last_seen END
}
