-- Decision records linked by the writer: Custos computes each record's
-- encoding (byte for byte what custos_decision_enc returns) and link in
-- process, and this function only checks and stores. Re-encoding and
-- hashing every record here was most of the database's work per decision.
-- Verification is unchanged: it recomputes every link from the stored
-- columns with custos_decision_enc, so a wrong link reads as tampering.
--
-- The batch must start from the chain's head as it is (seq and hash), and
-- its records must carry this chain, consecutive numbers from head + 1, and
-- each the previous record's hash as prev_hash; otherwise nothing is written.
CREATE FUNCTION custos_insert_linked_decisions(p_chain uuid, p_head_seq bigint, p_head_hash bytea, p_new_hash bytea, p_rows json) RETURNS bigint LANGUAGE plpgsql
  SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_seq  bigint;
  v_hash bytea;
  v_rows decision_log[];
  r      decision_log;
  n      bigint := 0;
BEGIN
  SELECT c.head_seq, c.head_hash INTO v_seq, v_hash FROM audit_chains c WHERE c.id = p_chain AND c.log = 'decision_log' FOR UPDATE;
  IF NOT FOUND THEN RAISE EXCEPTION 'unknown chain % of decision_log', p_chain; END IF;
  IF v_seq <> p_head_seq OR v_hash <> p_head_hash THEN
    RAISE EXCEPTION 'chain % is at %, not at % where the batch was linked from', p_chain, v_seq, p_head_seq USING ERRCODE = 'CU409';
  END IF;
  -- A set-returning function in the select list yields its rows in order.
  v_rows := ARRAY(SELECT json_populate_recordset(NULL::decision_log, p_rows));
  FOREACH r IN ARRAY v_rows LOOP
    n := n + 1;
    IF r.chain_id IS DISTINCT FROM p_chain OR r.seq IS DISTINCT FROM v_seq + n OR r.prev_hash IS DISTINCT FROM v_hash OR r.hash IS NULL THEN
      RAISE EXCEPTION 'record % of the batch for chain % is not linked from its head', n, p_chain USING ERRCODE = 'CU422';
    END IF;
    v_hash := r.hash;
  END LOOP;
  IF v_hash IS DISTINCT FROM p_new_hash THEN
    RAISE EXCEPTION 'the batch for chain % does not end at the head it names', p_chain USING ERRCODE = 'CU422';
  END IF;
  INSERT INTO decision_log SELECT * FROM unnest(v_rows);
  UPDATE audit_chains SET head_seq = v_seq + n, head_hash = v_hash WHERE id = p_chain;
  RETURN v_seq + n;
END;
$$;
