-- The inbound messages still waiting for an answer, found through an index of their own. The self-repair
-- sweep (every 30 s) and the backlog gauge of /metrics ask for them; without this index each ask read and
-- decrypted the whole messages table, which grows for as long as Chitin runs, and left it in a reader's
-- page cache. Only rows in status 'received' are in the index, so it stays as small as the backlog.
CREATE INDEX messages_received_idx ON messages (id) WHERE status = 'received';
