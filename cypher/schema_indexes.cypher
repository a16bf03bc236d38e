SHOW INDEXES YIELD name, state, labelsOrTypes, properties
RETURN name, state, labelsOrTypes AS labels, properties
ORDER BY name
