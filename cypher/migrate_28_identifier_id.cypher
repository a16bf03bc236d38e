CREATE INDEX identifier_id IF NOT EXISTS FOR (i:Identifier) ON (i.id)
