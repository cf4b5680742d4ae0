-- Tokens the model billed for the turn that produced an assistant reply (all steps of the turn summed),
-- stored on the reply itself so usage commits with the reply and its outbox entry. NULL: not a model reply.
ALTER TABLE messages ADD COLUMN input_tokens BIGINT;
ALTER TABLE messages ADD COLUMN output_tokens BIGINT;
