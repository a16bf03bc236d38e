CREATE CONSTRAINT publication_gen IF NOT EXISTS FOR (p:Publication) REQUIRE p.gen IS UNIQUE
