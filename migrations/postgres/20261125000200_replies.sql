-- Links each assistant reply to the inbound message it answers, at most one reply per message,
-- so a turn re-run after a crash cannot file a second reply.
ALTER TABLE messages ADD COLUMN in_reply_to BIGINT REFERENCES messages (id) ON DELETE SET NULL;
CREATE UNIQUE INDEX messages_in_reply_to_idx ON messages (in_reply_to);
