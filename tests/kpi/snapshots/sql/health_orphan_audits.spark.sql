-- query 1
SELECT audit_id, decision_id, auditor_id, audited_at, qa_decision, comment FROM audit_facts WHERE is_orphan ORDER BY audited_at DESC LIMIT :limit;
