-- Adds a reaction in one round trip. The message's row is locked first so that reactions to it are
-- counted one after another and two new emoji at once cannot both pass the limit; the INSERT,
-- a later query of a VOLATILE function, then sees what was committed while it waited.
CREATE FUNCTION add_reaction(p_message uuid, p_org text, p_user text, p_emoji text, p_max_emoji integer)
RETURNS TABLE (outcome text, created_at timestamptz) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  added timestamptz;
BEGIN
  PERFORM 1 FROM messages WHERE id = p_message FOR NO KEY UPDATE;
  INSERT INTO message_reactions AS r (message_id, org_id, user_id, emoji, created_at)
  SELECT p_message, p_org, p_user, p_emoji, now()
  WHERE EXISTS (SELECT 1 FROM message_reactions WHERE message_id = p_message AND emoji = p_emoji)
     OR (SELECT count(DISTINCT emoji) FROM message_reactions WHERE message_id = p_message) < p_max_emoji
  ON CONFLICT DO NOTHING
  RETURNING r.created_at INTO added;
  IF added IS NOT NULL THEN
    RETURN QUERY SELECT 'ADDED'::text, added;
  ELSIF EXISTS (SELECT 1 FROM message_reactions WHERE message_id = p_message AND emoji = p_emoji) THEN
    RETURN QUERY SELECT 'ALREADY_THERE'::text, NULL::timestamptz;
  ELSE
    RETURN QUERY SELECT 'TOO_MANY_EMOJI'::text, NULL::timestamptz;
  END IF;
END
$$;
